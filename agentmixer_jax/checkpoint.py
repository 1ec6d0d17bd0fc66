"""Checkpoints: the trained parameters of every seed of a run, saved with orbax beside its summary.json.

`python -m experiments.train ... --out OUT` writes OUT/params (an orbax checkpoint of the seed-stacked
parameter pytree) next to OUT/summary.json, which holds everything needed to rebuild the run: env name
and kwargs, algorithm, TrainConfig, HParams and the base seed. Load and use it with

    run = load_run("runs/bridge_mappo")      # Run: env, config, hparams, train, params
    run.params                               # pytree, every leaf (seeds, ...)
    run.evaluate()                           # repeats the final decentralised evaluation of every seed
    run.evaluate(eval_episodes=256)          # more episodes, same trained policies
    run.seed_params(3)                       # one seed's parameters, e.g. for `run.train.algo.actor_step`

Only the final parameters are saved (training is one compiled call); this is for evaluation, playback
and analysis, not for resuming an interrupted run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import jax
import numpy as np

from agentmixer_jax.config import HParams, TrainConfig

PARAMS_DIR = "params"


def _checkpointer():
    import orbax.checkpoint as ocp

    return ocp.StandardCheckpointer()


def save_params(out: str | Path, params) -> Path:
    """Write the seed-stacked parameter pytree `params` to OUT/params (replacing an earlier one)."""
    path = Path(out).absolute() / PARAMS_DIR
    ckpt = _checkpointer()
    ckpt.save(path, jax.device_get(params), force=True)
    ckpt.wait_until_finished()
    return path


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
    train: object  # make_train(env, config): .algo, .spec, .evaluate(params, key)
    params: object  # pytree, every leaf (seeds, ...)

    @property
    def num_seeds(self) -> int:
        return int(self.summary["seeds"])

    def seed_keys(self) -> jax.Array:
        """(seeds, 2) the training keys: run i used fold_in(PRNGKey(seed), i)."""
        base = jax.random.PRNGKey(int(self.summary.get("seed", 0)))
        return jax.vmap(lambda i: jax.random.fold_in(base, i))(np.arange(self.num_seeds))

    def seed_params(self, i: int):
        """The parameters of seed `i` (no seed axis)."""
        if not 0 <= i < self.num_seeds:
            raise IndexError(f"seed {i} out of range: the run has {self.num_seeds} seeds")
        return jax.tree.map(lambda x: x[i], self.params)

    def evaluate(self, eval_episodes: int | None = None, key: jax.Array | None = None) -> dict:
        """Decentralised greedy evaluation of every seed: {name: (seeds,) array}.

        With the defaults it repeats the evaluation that ended training (same keys, same episodes);
        `eval_episodes` and `key` (one key, split over the seeds) ask for a different one."""
        from agentmixer_jax.runner import eval_key, make_train

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
        import jax.numpy as jnp

        from agentmixer_jax.algorithms.base import ActorCritic
        from agentmixer_jax.runner import _wrap

        algo, spec, hp = self.train.algo, self.train.spec, self.hparams.as_floats()
        env = _wrap(self.env)
        env_params = env.default_params()

        def policy(params, out, state, mask, k):
            if sample:
                return ActorCritic.act(algo, params, out, state, mask, k, hp).action
            return algo.mode(params, out, mask)

        def step(params, carry, k):
            env_state, ts, h, start = carry
            k_act, k_env = jax.random.split(k)
            h, out = jax.vmap(algo.actor_step, in_axes=(None, 0, 0, 0, 0))(params, h, ts.obs, ts.action_mask, start)
            action = jax.vmap(policy, in_axes=(None, 0, 0, 0, 0))(params, out, ts.state, ts.action_mask,
                                                                   jax.random.split(k_act, num_envs))
            env_action = action if spec.discrete else jnp.clip(action, spec.action_space.low, spec.action_space.high)
            env_state, nxt = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_env, num_envs), env_state, env_action, env_params)
            info = {k: v for k, v in nxt.info.items() if k != "episode" and v.ndim == 1}  # no final_obs
            record = {"state": ts.state, "action": action, "reward": nxt.reward, "done": nxt.done, "info": info}
            return (env_state, nxt, h, nxt.done), record

        @jax.jit
        def play(params, key):
            k_reset, k_steps = jax.random.split(key)
            env_state, ts = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, num_envs), env_params)
            h = jnp.broadcast_to(algo.initial_hidden(), (num_envs, spec.num_agents, self.config.gru_size))
            carry = (env_state, ts, h, jnp.ones((num_envs,), bool))
            return jax.lax.scan(lambda c, k: step(params, c, k), carry, jax.random.split(k_steps, num_steps))[1]

        return play

def load_run(out: str | Path) -> Run:
    """Rebuild the env, config and train function of the run in `out` and restore its parameters."""
    import envs
    from agentmixer_jax.runner import make_train

    out = Path(out)
    summary_path, params_path = out / "summary.json", out.absolute() / PARAMS_DIR
    if not summary_path.exists():
        raise FileNotFoundError(f"{summary_path} not found: pass the --out folder of an experiments.train run")
    if not params_path.exists():
        raise FileNotFoundError(f"{params_path} not found: the run was trained with --no-checkpoint or by a "
                                "version that did not save parameters; train it again to get a checkpoint")
    summary = json.loads(summary_path.read_text())
    config = config_from_dict(summary["config"])
    hparams = HParams(**summary["hparams"])
    env = envs.make(summary["env"], **summary.get("env_kw", {}))
    train = make_train(env, config)
    run = Run(out=out, summary=summary, env=env, config=config, hparams=hparams, train=train, params=None)
    target = jax.eval_shape(jax.vmap(train.algo.init), run.seed_keys())
    run.params = _checkpointer().restore(params_path, target)
    return run
