"""Record the reference metrics of `tests/test_trainer_equivalence.py` (run from a checkout of the commit to pin).

    python tests/data/record_reference_metrics.py tests/data/reference_metrics.json

It trains each case of `CASES` with that checkout's `make_train` (imported from `agentmixer_jax.trainer`, or
from `agentmixer_jax.runner` on commits before the trainer redesign) and writes every per-update metric, the
final evaluation and a checksum of every parameter leaf. The JSON in this folder was recorded at commit 375acc8,
the last commit of the one-closure runner, so the test shows the redesign left behaviour unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import numpy as np

import envs
from agentmixer_jax.config import HParams, TrainConfig

try:
    from agentmixer_jax.trainer import make_train
except ImportError:  # before the trainer redesign
    from agentmixer_jax.runner import make_train

TINY = dict(num_envs=8, num_steps=2, update_epochs=2, num_minibatches=2, hidden_sizes=(16,),
            critic_hidden_sizes=(16,), pm_channels=8, pm_token_hidden=4, pm_channel_hidden=8, gru_size=8,
            eval_episodes=4)

# name -> (env, env kwargs, TrainConfig fields, HParams fields, seeds (0: one unbatched seed), updates)
CASES = {
    "climbing_agentmixer": ("climbing", {}, dict(algo="agentmixer"), dict(pm_lr=2e-3, gumbel_tau=0.5), 3, 4),
    "climbing_agentmixer_igc_exact": ("climbing", {}, dict(algo="agentmixer", igc_exact=True), dict(igc_coef=0.5),
                                      3, 4),
    "climbing_mappo": ("climbing", {}, dict(algo="mappo"), {}, 3, 4),
    "climbing_ippo_per_agent": ("climbing", {}, dict(algo="ippo", share_actor_params=False), {}, 3, 4),
    "bridge_ail": ("bridge", {}, dict(algo="ail", num_steps=5), {}, 2, 3),
    "predator_prey_agentmixer": ("predator_prey_p1", {}, dict(algo="agentmixer", num_steps=10), {}, 2, 3),
    "repeated_climbing_recurrent_agentmixer": (
        "climbing", dict(episode_length=3, obs_mode="last_action"),
        dict(algo="agentmixer", recurrent=True, num_envs=4, num_steps=7, num_minibatches=2), {}, 0, 3),
    "reacher_agentmixer_lowrank": ("reacher_2x1", {}, dict(algo="agentmixer", covariance="lowrank", num_steps=5), {},
                                   2, 2),
    "reacher_mappo": ("reacher_2x1", {}, dict(algo="mappo", num_steps=5), {}, 2, 2),
}


def run_case(name: str) -> dict:
    env_name, env_kw, cfg_kw, hp_kw, seeds, updates = CASES[name]
    fields = {**TINY, **cfg_kw}
    cfg = TrainConfig(**fields, total_env_steps=fields["num_envs"] * fields["num_steps"] * updates)
    train = make_train(envs.make(env_name, **env_kw), cfg)
    hp = HParams(**hp_kw).as_floats()
    if seeds:
        keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(0), i))(np.arange(seeds))
        out = jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, hp)
    else:
        out = jax.jit(train)(jax.random.PRNGKey(0), hp)
    return {
        "metrics": {k: np.asarray(v, np.float64).tolist() for k, v in out.metrics.items()},
        "eval": {k: np.asarray(v, np.float64).tolist() for k, v in out.eval.items()},
        "param_abs_sums": {jax.tree_util.keystr(p): float(np.abs(np.asarray(x, np.float64)).sum())
                           for p, x in jax.tree_util.tree_leaves_with_path(out.params)},
    }


def main(path: str) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {"commit": commit, "cases": {name: run_case(name) for name in CASES}}
    with open(path, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
