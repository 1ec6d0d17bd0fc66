"""Per-environment default settings (a starting point; every field can be overridden on the CLI).

Matrix games: one-step episodes, so a rollout of 1 step over many parallel games is one batch of
independent plays. The AgentMixer authors ran 50 threads x 200 steps per update with 15 PPO epochs,
1 minibatch, lr 5e-4 for 1M steps (LiZhYun/BackPropagationThroughAgents, train_matrix_c.sh and
config.py); we keep their epochs-per-sample ratio at a smaller batch so that 1024 seeds fit a 2-core CPU.
"""

from __future__ import annotations

import dataclasses

from agentmixer_jax.config import HParams, TrainConfig

_MATRIX = (
    dict(num_envs=64, num_steps=1, total_env_steps=64 * 100, update_epochs=4, num_minibatches=1),
    dict(),
)

PRESETS: dict[str, tuple[dict, dict]] = {
    "climbing": _MATRIX,
    "penalty": _MATRIX,
}


def preset(env: str, algo: str) -> tuple[TrainConfig, HParams]:
    """The preset for `env` (library defaults when there is none), with `algo` filled in."""
    cfg_kw, hp_kw = PRESETS.get(env, ({}, {}))
    return dataclasses.replace(TrainConfig(**cfg_kw), algo=algo), HParams(**hp_kw)
