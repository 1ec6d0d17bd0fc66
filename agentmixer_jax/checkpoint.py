"""A finished run read back: the trained parameters of every seed, to evaluate, play back and analyse.

`python -m experiments.train ... --out OUT` writes OUT/params (an orbax checkpoint of the seed-stacked
parameter pytree) next to OUT/summary.json, which holds everything needed to rebuild the run: env name
and kwargs, algorithm, TrainConfig, HParams and the base seed (the folder's layout is
`agentmixer_jax.run_record`'s). Load and use it with

    run = load_run("runs/bridge_mappo")      # Run: env, config, hparams, train, params
    run.params                               # pytree, every leaf (seeds, ...)
    run.evaluate()                           # repeats the final decentralised evaluation of every seed
    run.evaluate(eval_episodes=256)          # more episodes, same trained policies
    run.seed_params(3)                       # one seed's parameters, e.g. for `run.trainer.policy.actor_step`

This is for evaluation, playback and analysis; resuming an interrupted run uses OUT/checkpoints
(`python -m experiments.train --resume OUT`).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import jax
import numpy as np

from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.run_record import RunFolder
from agentmixer_jax.trainer import eval_key, make_train, seed_keys


def config_from_dict(d: dict) -> TrainConfig:
    """TrainConfig from its `dataclasses.asdict` form read back from JSON (lists become tuples)."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ValueError(f"config has fields TrainConfig does not know: {unknown}; the run was written by "
                         "another version of agentmixer-jax")
    return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclasses.dataclass(eq=False)  # hashed by identity: compiled players are cached per Run
class Run:
    """A trained run read back from its output folder."""

    out: Path
    summary: dict  # OUT/summary.json as written by experiments.train
    env: object  # the MultiAgentEnv, rebuilt with the run's env kwargs
    config: TrainConfig
    hparams: HParams
    train: object  # make_train(env, config): .trainer, .algo (the policy), .spec, .evaluate(params, key)
    params: object  # pytree, every leaf (seeds, ...)

    @property
    def num_seeds(self) -> int:
        return int(self.summary["seeds"])

    @property
    def trainer(self):
        return self.train.trainer

    @property
    def diverged(self) -> np.ndarray:
        """(seeds,) bool: seeds whose training went non-finite (their parameters are not a policy)."""
        return np.asarray(self.summary.get("diverged_per_seed", [False] * self.num_seeds), bool)

    def seed_keys(self) -> jax.Array:
        """(seeds, 2) the training keys: run i used fold_in(PRNGKey(seed), i)."""
        return seed_keys(int(self.summary.get("seed", 0)), self.num_seeds)

    def seed_params(self, i: int):
        """The parameters of seed `i` (no seed axis)."""
        if not 0 <= i < self.num_seeds:
            raise IndexError(f"seed {i} out of range: the run has {self.num_seeds} seeds")
        return jax.tree.map(lambda x: x[i], self.params)

    def evaluate(self, eval_episodes: int | None = None, key: jax.Array | None = None) -> dict:
        """Decentralised greedy evaluation of every seed: {name: (seeds,) array}.

        With the defaults it repeats the evaluation that ended training (same keys, same episodes);
        `eval_episodes` and `key` (one key, split over the seeds) ask for a different one."""
        train = self.train
        if eval_episodes is not None and eval_episodes != self.config.eval_episodes:
            train = make_train(self.env, dataclasses.replace(self.config, eval_episodes=eval_episodes))
        keys = (jax.vmap(eval_key)(self.seed_keys()) if key is None
                else jax.random.split(key, self.num_seeds))
        result = jax.jit(jax.vmap(train.evaluate))(self.params, keys)
        return {k: np.asarray(v) for k, v in result.items()}

    def rollout(self, seed: int, num_steps: int, num_envs: int = 1, sample: bool = False,
                key: jax.Array | None = None) -> dict:
        """Play seed `seed`'s decentralised individual policies for `num_steps` steps in `num_envs` envs.

        Greedy (mode) actions by default, as in evaluation; `sample=True` draws from the individual
        policies instead (AgentMixer's joint policy and AIL's expert are not used). Envs reset when an
        episode ends. Returns numpy arrays with leading (num_steps, num_envs): `state` (T, E, state_dim)
        and `action` (T, E, N) before each step, `reward` (T, E, N), `done` (T, E) and `info` (each env
        info scalar and `episode_done`, (T, E)) after it. The actors' recurrent state is carried and reset at
        episode starts, as in training. One compile per (num_steps, num_envs, sample), shared by all seeds."""
        key = jax.random.PRNGKey(0) if key is None else key
        play = self._player(num_steps, num_envs, sample)
        return jax.tree.map(np.asarray, play(self.seed_params(seed), key))

    @functools.cache  # noqa: B019 (a Run lives as long as its compiled players are useful)
    def _player(self, num_steps: int, num_envs: int, sample: bool):
        acting = self.trainer.acting
        behaviour = acting.individual_sample(self.hparams.as_floats()) if sample else acting.greedy()
        return jax.jit(lambda params, key: acting.play(params, key, num_steps, num_envs, behaviour))


def load_run(out: str | Path) -> Run:
    """Rebuild the env, config and trainer of the run in `out` and restore its final parameters."""
    import envs

    folder = RunFolder(out)
    summary = folder.read_summary()
    if not folder.params_path.exists():
        status = summary.get("status")
        why = (f"the run is {status}: resume it with python -m experiments.train --resume {out}"
               if status in ("running", "interrupted") else
               "the run was trained with --no-checkpoint or by a version that did not save parameters; train it "
               "again to get a checkpoint")
        raise FileNotFoundError(f"{folder.params_path} not found: {why}")
    config = config_from_dict(summary["config"])
    hparams = HParams(**summary["hparams"])
    env = envs.make(summary["env"], **summary.get("env_kw", {}))
    train = make_train(env, config)
    run = Run(out=Path(out), summary=summary, env=env, config=config, hparams=hparams, train=train, params=None)
    target = jax.eval_shape(jax.vmap(train.trainer.policy.init), run.seed_keys())
    run.params = folder.restore_params(target)
    return run
