"""Per-environment default settings (a starting point; every field can be overridden on the CLI).

Matrix games: one-step episodes, so a rollout of 1 step over many parallel games is one batch of
independent plays. The AgentMixer authors ran 50 threads x 200 steps per update with 15 PPO epochs,
1 minibatch, lr 5e-4 for 1M steps (LiZhYun/BackPropagationThroughAgents, train_matrix_c.sh and
config.py); we use 64 games x 100 updates x 4 epochs so that 1024 seeds fit a 2-core CPU in minutes
(15 epochs on 512 games collapsed every seed to the (1, 1) equilibrium even faster).

The Policy Modifier is narrowed to 16 channels for these two-agent, three-action games (the authors'
64 channels cost 4x the compute and a sweep showed no gain), and AgentMixer uses the best setting of a
32-point vmapped sweep over lr, pm_lr, ent_coef, gumbel_tau and igc_coef (16 seeds each; see RESULTS.md).
"""

from __future__ import annotations

import dataclasses

from agentmixer_jax import registry
from agentmixer_jax.config import HParams, TrainConfig

_MATRIX_CONFIG = dict(num_envs=64, num_steps=1, total_env_steps=64 * 100, update_epochs=4, num_minibatches=1,
                      pm_channels=16, pm_channel_hidden=32, pm_token_hidden=8)
_MATRIX_PER_ALGO = {"agentmixer": dict(pm_lr=2e-3, gumbel_tau=0.5)}

# Grid tasks (issue 3). Predator-prey episodes last up to 100 steps (the authors' max_steps), so one
# rollout of 100 steps from 32 envs is one update (MAPPO's 4 epochs x 2 minibatches); 1M steps per seed,
# the budget of the paper's predator-prey figure. Bridge episodes last at most 25 steps: 32 envs x 25
# steps per update, 200k steps per seed (at 100k some MAPPO seeds still deadlock, see RESULTS.md). The PM
# is 16 channels wide for these two-agent, five-action tasks, as for the matrix games.
_SMALL_PM = dict(pm_channels=16, pm_channel_hidden=32, pm_token_hidden=8)
# Running input normalisation (issue 17): chosen by the ablation in RESULTS.md ("Critic and network options"):
# MAPPO's greedy win rate x2.0-4.5 on the three SMACv2 stand-in races at 192k steps, the best greedy return on
# predator-prey P = -1, no measurable throughput cost (BENCHMARKS.md). Not measured elsewhere, so not elsewhere.
_INPUT_NORM = dict(normalize_inputs=True)
_PREDATOR_PREY_CONFIG = dict(num_envs=32, num_steps=100, total_env_steps=1_000_000, update_epochs=4,
                             num_minibatches=2, eval_episodes=32, **_SMALL_PM, **_INPUT_NORM)
_BRIDGE_CONFIG = dict(num_envs=32, num_steps=25, total_env_steps=200_000, update_epochs=4, num_minibatches=2,
                      eval_episodes=32, **_SMALL_PM)

# Multi-agent MuJoCo (issue 4): MAPPO's MuJoCo settings (Yu et al. 2022, HARL's mamujoco configs): rollouts of
# 100 steps, 5 epochs, 4 minibatches, lr 5e-4 (critic too), gamma 0.99, lambda 0.95; 10M steps as in the paper's
# MaMuJoCo figures. The env kwargs give the authors' partial observability: agent_obsk=2
# (LiZhYun/BackPropagationThroughAgents, scripts/train_mujoco.sh).
_MUJOCO_CONFIG = dict(num_envs=64, num_steps=100, total_env_steps=10_000_000, update_epochs=5, num_minibatches=4,
                      eval_episodes=8, normalize_advantages=True)
# SMACv2 stand-in (issue 5): MAPPO's SMACv2 settings with feed-forward actors: 5 epochs, lr 5e-4, gamma 0.99;
# 32 envs x 100 steps per update; 10M steps as the published SMACv2 curves; a 32-channel PM.
_SMAX_CONFIG = dict(num_envs=32, num_steps=100, total_env_steps=10_000_000, update_epochs=5, num_minibatches=2,
                    eval_episodes=32, pm_channels=32, pm_channel_hidden=64, pm_token_hidden=16, **_INPUT_NORM)
_MUJOCO_TASKS = ("ant_2x4", "ant_2x4d", "ant_4x2", "ant_8x1", "halfcheetah_2x3", "halfcheetah_3x2", "halfcheetah_6x1",
                 "hopper_3x1", "walker2d_2x3", "walker2d_3x2", "walker2d_6x1", "humanoid_9|8", "humanoid_17x1",
                 "humanoidstandup_9|8", "humanoidstandup_17x1", "reacher_2x1")
_SMAX_TASKS = tuple(f"{race}_{size}" for race in ("protoss", "terran", "zerg")
                    for size in ("5v5", "10v10", "20v20", "10v11", "20v23"))

# env -> constructor kwargs the paper used (the CLI's --env-kw adds to / overrides them)
ENV_KWARGS: dict[str, dict] = {name: {"obsk": 2} for name in _MUJOCO_TASKS}

# env -> (TrainConfig fields, HParams fields, {algorithm name (agentmixer_jax.registry): its extra HParams fields})
PRESETS: dict[str, tuple[dict, dict, dict[str, dict]]] = {
    "climbing": (_MATRIX_CONFIG, {}, _MATRIX_PER_ALGO),
    "penalty": (_MATRIX_CONFIG, {}, _MATRIX_PER_ALGO),
    **{name: (_PREDATOR_PREY_CONFIG, {}, {})
       for name in ("predator_prey", "predator_prey_p0", "predator_prey_p05", "predator_prey_p1", "predator_prey_p15")},
    "bridge": (_BRIDGE_CONFIG, {}, {}),
    **{name: (_MUJOCO_CONFIG, {}, {}) for name in _MUJOCO_TASKS},
    **{name: (_SMAX_CONFIG, {}, {}) for name in _SMAX_TASKS},
}


# Network setups of reference implementations, applied over an env preset with `--network NAME` (explicit
# --config flags still override them). "preset" leaves the env preset as it is.
NETWORKS: dict[str, dict] = {
    "preset": {},
    # The AgentMixer authors (LiZhYun/BackPropagationThroughAgents bta/config.py, commit 01578ae): use_valuenorm,
    # use_huber_loss with huber_delta 10 (their bta/utils/util.py huber is two-sided), use_feature_normalization
    # (LayerNorm on inputs), use_orthogonal with gain 0.01 on the action layer, relu, hidden_size 64 with
    # layer_N 1 (two 64-wide layers), use_clipped_value_loss; max_grad_norm 10 and value_loss_coef 1 are already
    # our defaults. Their critic is one network per agent when policies are not shared; ours is shared with ids.
    "authors": dict(value_norm=True, value_loss="huber", feature_norm=True, weight_init="orthogonal",
                    clip_value_loss=True, activation="relu", hidden_sizes=(64, 64), critic_hidden_sizes=(64, 64)),
    # JaxMARL's MAPPO (baselines/MAPPO/mappo_rnn_smax.py, jaxmarl 0.2.0): actor Dense(128) -> GRU(128) ->
    # Dense(128) -> logits without an agent id, critic Dense(128) -> GRU(128) -> Dense(128) -> V on the world
    # state, orthogonal init (sqrt 2, 0.01, 1); no value or input normalisation.
    "jaxmarl": dict(recurrent=True, recurrent_critic=True, gru_dense=True, agent_id=False, weight_init="orthogonal",
                    hidden_sizes=(128,), critic_hidden_sizes=(128,), gru_size=128),
}


def env_kwargs(env: str) -> dict:
    """The constructor kwargs of the paper's setting for `env` (empty when there are none)."""
    return dict(ENV_KWARGS.get(env, {}))


def preset(env: str, algo: str, network: str = "preset") -> tuple[TrainConfig, HParams]:
    """The preset for `env` (library defaults when there is none), with `algo` filled in and the network setup
    `network` (a name of NETWORKS) applied over it."""
    algorithm = registry.get(algo)  # a ValueError listing the known algorithms
    if network not in NETWORKS:
        raise ValueError(f"unknown network setup {network!r}; known: {', '.join(NETWORKS)}")
    cfg_kw, hp_kw, per_algo = PRESETS.get(env, ({}, {}, {}))
    hp = HParams(**{**hp_kw, **per_algo.get(algo, {})})
    cfg = TrainConfig(**{**cfg_kw, **algorithm.config_defaults, **NETWORKS[network]})
    return dataclasses.replace(cfg, algo=algo), hp
