"""Per-environment default settings (a starting point; every field can be overridden on the CLI).

Matrix games: one-step episodes, so a rollout of 1 step over many parallel games is one batch of
independent plays. The AgentMixer authors ran 50 threads x 200 steps per update with 15 PPO epochs,
1 minibatch, lr 5e-4 for 1M steps (LiZhYun/BackPropagationThroughAgents, train_matrix_c.sh and
config.py); we use 64 games x 100 updates x 4 epochs so that 1024 seeds fit a 2-core CPU in minutes
(15 epochs on 512 games collapsed every seed to the (1, 1) equilibrium even faster).

The Policy Modifier is narrowed to 16 channels for these two-agent, three-action games (the authors'
64 channels cost 4x the compute and a sweep showed no gain); AgentMixer is its joint-action form (below).
"""

from __future__ import annotations

import dataclasses

from agentmixer_jax import registry
from agentmixer_jax.config import HParams, TrainConfig

_MATRIX_CONFIG = dict(num_envs=64, num_steps=1, total_env_steps=64 * 100, update_epochs=4, num_minibatches=1,
                      pm_channels=16, pm_channel_hidden=32, pm_token_hidden=8)
# The joint-action PM (pm_form=joint): pm_lr 2e-3 (5e-4 left every climbing seed at (1, 1); 2e-3 and 1e-2 reached
# the optimum on 64 of 64, with or without entropy; penalty 64 of 64 in all eight settings tried).
# The authors' form at their matrix settings (LiZhYun/BackPropagationThroughAgents bta/scripts/temporal/matrix/
# lumi/train_matrix_c.sh @ 202575b: --mix_std_y_coef 0.95 --sigmoid_gain 1.0 --decay_id 3 --temperature 1.0
# --attention_lr 5e-5; train_matrix_p.sh sets nothing, so bta/config.py's defaults @ 78c68f4: y 0.5, gain 1,
# decay_id 1 (cosine) with decay_factor 1.5, temperature 1, attention_lr 5e-4). Their rollouts (50 x 200 steps,
# 15 epochs, 1M steps) are not used: every algorithm gets the same budget here.
_AUTHORS_CLIMBING = dict(pm_y=0.95, pm_gain=1.0, tau_schedule="constant", gumbel_tau=1.0, pm_lr=5e-5)
_AUTHORS_PENALTY = dict(pm_y=0.5, pm_gain=1.0, tau_schedule="cosine", tau_decay=1.5, gumbel_tau=1.0, pm_lr=5e-4)
# Plain `agentmixer` (what `make train` runs) is the joint form here: the form that reaches the optimum (RESULTS.md,
# issue 12). Before issue 12 it was the gumbel form with pm_lr 2e-3 and gumbel_tau 0.5 (the best of a 32-point
# sweep; 1.3% of 1024 seeds at the climbing optimum): `--config.pm-form gumbel --hp.gumbel-tau 0.5`.
_JOINT_MATRIX = dict(pm_form="joint", pm_lr=2e-3)
_MATRIX_PER_ALGO = {"agentmixer": _JOINT_MATRIX, "agentmixer_joint": dict(pm_lr=2e-3),
                    "agentmixer_ar": dict(pm_lr=1e-2)}

# Grid tasks (issue 3). Predator-prey episodes last up to 100 steps (max_steps of the first version of the
# authors' env, commit 623370b; their runs used 128, see below), so one rollout of 100 steps from 32 envs is one
# update (MAPPO's 4 epochs x 2 minibatches); 1M steps per seed, the budget of the paper's predator-prey figure.
# Bridge episodes last at most 25 steps: 32 envs x 25 steps per update, 200k steps per seed (at 100k some MAPPO
# seeds still deadlock, see RESULTS.md). The PM is 16 channels wide for these two-agent, five-action tasks, as for
# the matrix games.
_SMALL_PM = dict(pm_channels=16, pm_channel_hidden=32, pm_token_hidden=8)
# Running input normalisation (issue 17): chosen by the ablation in RESULTS.md ("Critic and network options"):
# MAPPO's greedy win rate x2.0-4.5 on the three SMACv2 stand-in races at 192k steps, the best greedy return on
# predator-prey P = -1, no measurable throughput cost (BENCHMARKS.md). Not measured elsewhere, so not elsewhere.
_INPUT_NORM = dict(normalize_inputs=True)
_PREDATOR_PREY_CONFIG = dict(num_envs=32, num_steps=100, total_env_steps=1_000_000, update_epochs=4,
                             num_minibatches=2, eval_episodes=32, **_SMALL_PM, **_INPUT_NORM)
# The authors' predator-prey runs (`predator_prey_authors_*`: capture reward 10, 128-step episodes; see
# envs/predator_prey.py): the same settings with 128-step rollouts, so that one rollout spans an episode. Batch
# 32 x 128 = 4096 (2 minibatches of 2048); 1M steps gives 244 updates (999,424 env steps: 1M is not a multiple
# of 128, and the update count is rounded down as for every preset).
_PREDATOR_PREY_AUTHORS_CONFIG = {**_PREDATOR_PREY_CONFIG, "num_steps": 128}
# The authors' form with their predator-prey settings (bta/scripts/temporal/predator_prey/lumi/
# train_predator_prey.sh @ b7a9cb8: --mix_std_y_coef 0.95 --decay_id 1 --decay_factor 1.5 --temperature 1.0
# --sigmoid_gain 1.0 --attention_lr 5e-5); the joint-action PM with the matrix games' pm_lr (not tuned here).
_GRID_PER_ALGO = {"agentmixer_authors": dict(pm_y=0.95, pm_gain=1.0, tau_schedule="cosine", tau_decay=1.5,
                                             gumbel_tau=1.0, pm_lr=5e-5),
                  "agentmixer_joint": dict(pm_lr=2e-3), "agentmixer_ar": dict(pm_lr=2e-3)}
_BRIDGE_CONFIG = dict(num_envs=32, num_steps=25, total_env_steps=200_000, update_epochs=4, num_minibatches=2,
                      eval_episodes=32, **_SMALL_PM)

# Multi-agent MuJoCo (issue 4): MAPPO's MuJoCo settings (Yu et al. 2022, HARL's mamujoco configs): rollouts of
# 100 steps, 5 epochs, 4 minibatches, lr 5e-4 (critic too), gamma 0.99, lambda 0.95; 10M steps as in the paper's
# MaMuJoCo figures. The env kwargs (ENV_KWARGS) set obsk=2 (joints within 2 hops), which is NOT what the
# AgentMixer authors ran (LiZhYun/BackPropagationThroughAgents; their method is "temporal" there):
# * 2023: bta/scripts/temporal/mujoco/lumi/train_mujoco.sh (agent_obsk=0 since commit 8fa3cb8, 2023-07-08, up to
#   its last commit 8c48deb, 2023-09-28) and .../triton/train_mujoco.sh (agent_obsk=0 from dab2386, 2023-09-14)
#   pass --agent_obsk 0: each agent sees its own joints (and the root's global features). `--env-kw obsk=0`
#   gives this.
# * 2024: commit 78c68f4 (2024-11-06) drops --agent_obsk from .../triton/train_mujoco.sh and makes
#   bta/scripts/train/train_mujoco.py's default None, which their mujoco_multi.py reads as full observation
#   (every agent gets the single-agent gym observation). `--env-kw obsk=None` gives this (envs/mabrax: with
#   obsk=None every agent's features are Brax's single-agent observation, then the agent id).
# Their temporal lumi script had agent_obsk=2 only in its first version (98648ca, 2023-06-25; then 0, briefly 1),
# and their baselines' older puhti scripts (e.g. bta/scripts/mappo/mujoco/puhti/train_mujoco.sh, ce91747) keep 2.
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

# jumanji's Level-Based Foraging and Robotic Warehouse (issue 15, envs/jumanji_adapter.py): Mava's feed-forward MAPPO
# settings (instadeepai/Mava @ 57c8e64: mava/configs/system/ppo/ff_mappo.yaml: actor and critic lr 2.5e-4,
# rollout_length 128, ppo_epochs 4, num_minibatches 2, gamma 0.99, gae_lambda 0.95, clip_eps 0.2, ent_coef 0.01,
# vf_coef 0.5, max_grad_norm 0.5, add_agent_id; mava/configs/network/mlp.yaml: 128x128 relu actor and critic;
# mava/configs/arch/anakin.yaml: num_envs 16, 32 evaluation episodes) and its budget (README.md: 20 million
# environment steps with 16 vectorised environments, for its RWARE and LBF figures). Mava's update_batch_size 2 (two
# learner copies of 16 envs each, their gradients averaged) is 32 envs here: an update is 32 x 128 steps in 2
# minibatches of 2048, as Mava's 2 x (16 x 128 in 2 minibatches of 1024) averaged. Not reproduced: Mava evaluates
# sampled actions (evaluation_greedy False), ours are greedy; its LBF figures are recurrent MAPPO.
_JUMANJI_CONFIG = dict(num_envs=32, num_steps=128, total_env_steps=20_000_000, update_epochs=4, num_minibatches=2,
                       hidden_sizes=(128, 128), critic_hidden_sizes=(128, 128), activation="relu", eval_episodes=32)
_JUMANJI_HP = dict(lr=2.5e-4, critic_lr=2.5e-4, clip_eps=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5,
                   gamma=0.99, gae_lambda=0.95)
_JUMANJI_TASKS = ("lbf", "lbf_2s-8x8-2p-2f-coop", "lbf_8x8-2p-2f-coop", "lbf_2s-10x10-3p-3f", "lbf_10x10-3p-3f",
                  "lbf_15x15-3p-5f", "lbf_15x15-4p-3f", "lbf_15x15-4p-5f",
                  "rware", "rware_tiny-2ag", "rware_tiny-4ag", "rware_tiny-4ag-easy", "rware_small-4ag")

# Off-policy (issue 13: masac, agentmixer_sac; learners/sac.py). Per-algorithm entries, so the on-policy presets
# above stay as they are; every SAC preset keeps the env's total_env_steps.
# MaMuJoCo: HARL's tuned HASAC settings (PKU-MARL/HARL tuned_configs/mamujoco/HalfCheetah-v2-2x3/hasac/config.json
# @ 5e4f7cf: 20 rollout threads, warmup 10000 steps, train_interval 50 x update_per_train 1 = 50 gradient steps per
# 1000 env steps, batch 1000, buffer 1e6, polyak 0.005, gamma 0.99, lr and critic_lr 1e-3, auto alpha from 0.2 at
# alpha_lr 3e-4, 256x256 relu, feature normalisation, orthogonal init). Ant-v2-4x2 (same commit): critic_lr 3e-4
# and a fixed alpha of 0.2 (auto_alpha false: alpha_lr 0 here). Not reproduced: HARL's n-step returns (n_step 10
# and 5; ours are 1-step) and its sequential actor updates (HASAC; MASAC here updates all agents at once).
# AgentMixer-SAC: the PM's joint std in (0, std_max), std_max 2 so that it starts at 1 (MASAC's starting std).
_SAC_MUJOCO = dict(num_envs=20, num_steps=50, buffer_size=1_000_000, sac_batch_size=1000, utd_ratio=0.05,
                   warmup_steps=10_000, hidden_sizes=(256, 256), critic_hidden_sizes=(256, 256), feature_norm=True,
                   weight_init="orthogonal", lr=1e-3, critic_lr=1e-3, pm_lr=1e-3, alpha_init=0.2, alpha_lr=3e-4,
                   polyak=0.005, gamma=0.99)
_SAC_ANT = {**_SAC_MUJOCO, "critic_lr": 3e-4, "alpha_lr": 0.0}
_SAC_MUJOCO_PER_ALGO = {"masac": _SAC_MUJOCO, "agentmixer_sac": {**_SAC_MUJOCO, "std_max": 2.0}}
_SAC_ANT_PER_ALGO = {"masac": _SAC_ANT, "agentmixer_sac": {**_SAC_ANT, "std_max": 2.0}}
# Matrix games: the on-policy budget (64 games x 100 updates), 8 gradient steps of 128 plays per update after 1024
# random plays; critic and PM at lr 3e-3, entropy target 0.3 x SAC-Discrete's. Chosen by a 32-seed probe on
# climbing (RESULTS.md, issue 13): actor lr 3e-3 instead of 5e-4 left AgentMixer-SAC at 0.06-0.16 optimal.
_SAC_MATRIX = dict(num_steps=1, buffer_size=6400, sac_batch_size=128, utd_ratio=8 / 64, warmup_steps=1024,
                   lr=1e-4, critic_lr=3e-3, pm_lr=3e-3, alpha_init=1.0, alpha_lr=3e-4, target_entropy_scale=0.3)
_SAC_MATRIX_PER_ALGO = {"masac": _SAC_MATRIX, "agentmixer_sac": {**_SAC_MATRIX, "pm_form": "joint"}}
# Grid tasks (predator-prey, bridge): 32 envs x 25 steps per update, a gradient step of 256 per 8 env steps,
# 5000 random steps, a 200k buffer (the whole 200k-step bridge run), SAC's other defaults. Not tuned.
_SAC_GRID = dict(num_steps=25, buffer_size=200_000, sac_batch_size=256, utd_ratio=0.125, warmup_steps=5_000,
                 alpha_init=0.2, target_entropy_scale=0.5)
_SAC_GRID_PER_ALGO = {"masac": _SAC_GRID, "agentmixer_sac": {**_SAC_GRID, "pm_form": "joint", "pm_lr": 2e-3}}
# SMACv2 stand-in: 11^5 joint actions, too many for the exact expectation and the joint form: MASAC with
# Gumbel-softmax actions only. Not tuned.
_SAC_SMAX_PER_ALGO = {"masac": dict(num_steps=25, buffer_size=200_000, sac_batch_size=256, utd_ratio=0.125,
                                    warmup_steps=5_000, alpha_init=0.2, sac_discrete="gumbel")}

# env -> constructor kwargs of the preset (the CLI's --env-kw adds to / overrides them; for MaMuJoCo obsk=2, not
# the AgentMixer authors' setting: see above and MUJOCO_OBSK_CHOICES)
ENV_KWARGS: dict[str, dict] = {name: {"obsk": 2} for name in _MUJOCO_TASKS}
# The MaMuJoCo observation settings, as `--env-kw obsk=VALUE` (experiments/train.py parses VALUE as a Python literal)
MUJOCO_OBSK_CHOICES: dict[str, object] = {
    "preset": 2,  # ENV_KWARGS: joints within 2 hops (the authors' baselines' older puhti scripts)
    "authors_2023": 0,  # --env-kw obsk=0: own joints and the root (the AgentMixer authors' 2023 scripts)
    "authors_2024": None,  # --env-kw obsk=None: full observation (their 2024 script, commit 78c68f4)
}

# env -> (TrainConfig fields, HParams fields, {algorithm name (agentmixer_jax.registry): its own fields of either})
PRESETS: dict[str, tuple[dict, dict, dict[str, dict]]] = {
    "climbing": (_MATRIX_CONFIG, {}, {**_MATRIX_PER_ALGO, "agentmixer_authors": _AUTHORS_CLIMBING,
                                      **_SAC_MATRIX_PER_ALGO}),
    "penalty": (_MATRIX_CONFIG, {}, {**_MATRIX_PER_ALGO, "agentmixer_authors": _AUTHORS_PENALTY,
                                     **_SAC_MATRIX_PER_ALGO}),
    **{name: (_PREDATOR_PREY_CONFIG, {}, {**_GRID_PER_ALGO, **_SAC_GRID_PER_ALGO})
       for name in ("predator_prey", "predator_prey_p0", "predator_prey_p05", "predator_prey_p1", "predator_prey_p15")},
    **{name: (_PREDATOR_PREY_AUTHORS_CONFIG, {}, {**_GRID_PER_ALGO, **_SAC_GRID_PER_ALGO})
       for name in ("predator_prey_authors_p0", "predator_prey_authors_p1", "predator_prey_authors_p15")},
    "bridge": (_BRIDGE_CONFIG, {}, {**_GRID_PER_ALGO, **_SAC_GRID_PER_ALGO}),
    **{name: (_MUJOCO_CONFIG, {}, _SAC_ANT_PER_ALGO if name.startswith("ant_") else _SAC_MUJOCO_PER_ALGO)
       for name in _MUJOCO_TASKS},
    **{name: (_SMAX_CONFIG, {}, _SAC_SMAX_PER_ALGO) for name in _SMAX_TASKS},
    **{name: (_JUMANJI_CONFIG, _JUMANJI_HP, {}) for name in _JUMANJI_TASKS},
}


# Measured figures shown under the CLI's evaluation table (caption), so that `make train` sets the authors' form
# beside the form it trains: (env, algo) -> line. From RESULTS.md, "AgentMixer that coordinates" (issue 12).
_AUTHORS_BESIDE = ("Beside it (RESULTS.md, 1024 seeds, same budget): the authors' form (--algo agentmixer_authors) "
                   "{} of seeds at {}; MAPPO 0.000")
MEASURED_BESIDE: dict[tuple[str, str], str] = {
    ("climbing", "agentmixer"): _AUTHORS_BESIDE.format("0.000 [0.000, 0.004]", "the optimum"),
    ("penalty", "agentmixer"): _AUTHORS_BESIDE.format("0.000 [0.000, 0.004]", "an optimum"),
}

# Network setups of reference implementations, applied over an env preset with `--network NAME` (explicit
# --config flags still override them). "preset" leaves the env preset as it is.
NETWORKS: dict[str, dict] = {
    "preset": {},
    # The AgentMixer authors' network and value settings (agentmixer_jax/registry.py AUTHORS_NETWORK, cited there;
    # the `agentmixer_authors` preset has them too).
    "authors": registry.AUTHORS_NETWORK,
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
    algo_kw = per_algo.get(algo, {})
    hp_names = set(HParams.names())
    hp = HParams(**{**hp_kw, **{k: v for k, v in algo_kw.items() if k in hp_names}})
    cfg_algo = {k: v for k, v in algo_kw.items() if k not in hp_names}
    cfg = TrainConfig(**{**cfg_kw, **algorithm.config_defaults, **cfg_algo, **NETWORKS[network]})
    return dataclasses.replace(cfg, algo=algo), hp
