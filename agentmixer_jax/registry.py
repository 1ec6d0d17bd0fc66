"""The one table of algorithms: name -> what acts (policy class), how it learns (learner), what it is.

The CLI's `--algo` choices, the presets' per-algorithm overrides and the tests' algorithm lists all derive
from `ALGORITHMS`; adding an algorithm is one entry here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from agentmixer_jax.learners.happo import HAPPO
from agentmixer_jax.learners.ppo import PPO
from agentmixer_jax.learners.sac import SAC
from agentmixer_jax.policies import AIL, IPPO, MAPPO, MASAC, ActorCritic, HAPPOPolicy, make_agentmixer
from agentmixer_jax.policies.ar_mappo import ARMAPPO
from agentmixer_jax.policies.mat import MAT, MATDec

# MAT's value settings (PKU-MARL/Multi-Agent-Transformer mat/config.py at 08a18c6: use_valuenorm, use_huber_loss
# with huber_delta 10, use_clipped_value_loss; its lr 5e-4, entropy 0.01, clip 0.2, max_grad_norm 10 are our
# HParams defaults). Huber here is the two-sided form (with ValueNorm the branch beyond 10 std is never taken).
_MAT_DEFAULTS = {"value_norm": True, "value_loss": "huber"}

# The autoregressive PM's best setting in RESULTS.md's 64-seed probes (issue 12): igc_exact with the individual
# policies' probabilities as the reference (no jump when a tied mode flips) and distillation onto the joint's
# greedy decode (the first agent commits): climbing 0.98, penalty 1.0, where the other variants reached 0.0-0.6.
_AR_DEFAULTS = {"pm_form": "autoregressive", "igc_exact": True, "ar_reference": "probs", "ar_distill": "hard"}


# The AgentMixer authors' network and value settings (LiZhYun/BackPropagationThroughAgents bta/config.py, commit
# 01578ae; unchanged at 13607d0, and none of their bta/scripts/temporal scripts overrides them): use_valuenorm,
# use_huber_loss with huber_delta 10 (their bta/utils/util.py huber is two-sided), use_feature_normalization
# (LayerNorm on inputs, and no running input normalisation), use_orthogonal with gain 0.01 on the action layer,
# relu, hidden_size 64 with layer_N 1 (two 64-wide layers, each Linear -> ReLU -> LayerNorm: their MLPLayer in
# bta/algorithms/utils/mlp.py @ ecc9a14, our hidden_norm, added 2026-12-05), use_clipped_value_loss;
# max_grad_norm 10 and value_loss_coef 1 are already our defaults. The temporal runner uses them
# (bta/runner/temporal/base_runner.py @ 13607d0: ValueNorm and huber_loss in compute_returns / joint_train).
# `--network authors` applies the same set to any algorithm. Not reproduced by default: their actors and critics
# are recurrent (use_recurrent_policy defaults to True: a GRU after the MLP base,
# bta/algorithms/bta/algorithm/r_actor_critic.py), which `--config.recurrent --config.recurrent-critic` adds; and
# their critic is one network per agent (ours is one network with agent ids).
AUTHORS_NETWORK = dict(value_norm=True, value_loss="huber", feature_norm=True, hidden_norm=True,
                       normalize_inputs=False, weight_init="orthogonal", clip_value_loss=True, activation="relu",
                       hidden_sizes=(64, 64), critic_hidden_sizes=(64, 64))

# The authors' AgentMixer builds one policy (actor and critic) per agent and one Policy Modifier shared by all
# (bta/runner/temporal/base_runner.py @ 13607d0, lines 158-170 `self.policy` and 193-194 `Action_Attention`; last
# changed 78c68f4): per-agent actors here too, with the authors' network settings above. Before 2026-12-05 this
# preset shared the actor, and until the authors' network settings were added (also 2026-12-05) it had our
# default critic settings (no ValueNorm, MSE, no LayerNorm, the env preset's input normalisation). RESULTS.md
# says which rows ran with which.
# Their Policy Modifier (`Action_Attention`, bta/algorithms/utils/action_attention.py, last changed 7f9af49) at their
# sizes in every AgentMixer script (none overrides them; bta/config.py @ 13607d0): attn_size 64, attn_N 1 block,
# token_factor 0.5 (agent-mixing hidden 32), channel_factor 4 (channel-mixing hidden 256), with their input
# encoders (pm_arch="authors", policy_modifier.py). These override the env presets' narrower PMs (16 channels on
# the matrix and grid tasks) for this algorithm; before 2026-12-05 (later that day) the preset had our mixer
# architecture at the env preset's widths.
AUTHORS_PM = dict(pm_arch="authors", pm_channels=64, pm_blocks=1, pm_token_hidden=32, pm_channel_hidden=256)
_AUTHORS_DEFAULTS = {"pm_form": "authors", "share_actor_params": False, **AUTHORS_NETWORK, **AUTHORS_PM}


# AR-MAPPO: one actor per agent, as the authors' runner builds them (bta/runner/ar/base_runner.py). Their AR scripts
# (bta/scripts/ar/matrix/lumi/train_matrix_c.sh @ 47dd169, ar/mujoco/lumi/train_mujoco.sh @ 162ade3) pass the same
# rollout / epoch / learning-rate settings as their runs of the other algorithms, so the env presets apply unchanged.
_AR_MAPPO_DEFAULTS = {"share_actor_params": False}


@dataclasses.dataclass(frozen=True)
class Algorithm:
    name: str
    policy: Callable[..., ActorCritic]  # what acts (agentmixer_jax/policies/): (spec, config) -> policy
    learner: type  # how it learns (agentmixer_jax/learners/)
    summary: str  # one line for --help and the README
    centralised_execution: bool = False  # True where greedy play needs more than each agent's own observation
    # TrainConfig fields the algorithm's presets set (experiments/presets.py applies them under the env preset)
    config_defaults: dict = dataclasses.field(default_factory=dict)


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("agentmixer", make_agentmixer, PPO,
                  "AgentMixer: individual policies + Policy Modifier joint policy (--config.pm-form), PPO on the "
                  "joint ratio, centralised critic"),
        Algorithm("agentmixer_authors", make_agentmixer, PPO,
                  "AgentMixer as the authors' code runs it (pm_form=authors; a product policy on one-state games; "
                  "one actor per agent; their value and network settings and per-task settings; feed-forward)",
                  config_defaults=_AUTHORS_DEFAULTS),
        Algorithm("agentmixer_joint", make_agentmixer, PPO,
                  "AgentMixer with a Policy Modifier over joint actions (pm_form=joint), IGC by distillation; "
                  "tasks with up to pm_joint_max joint actions", config_defaults={"pm_form": "joint"}),
        Algorithm("agentmixer_ar", make_agentmixer, PPO,
                  "AgentMixer with a Policy Modifier autoregressive over the agents (pm_form=autoregressive), "
                  "linear in agents x actions; exact IGC with a smoothed reference, distilled onto its decode",
                  config_defaults=_AR_DEFAULTS),
        Algorithm("agentmixer_sac", make_agentmixer, SAC,
                  "AgentMixer-SAC: the joint policy (continuous: individual means, PM covariance; discrete: "
                  "pm_form=joint) maximises the twin centralised soft Q with the joint entropy; replay buffer"),
        Algorithm("mappo", MAPPO, PPO, "MAPPO: individual policies, per-agent ratios, centralised critic"),
        Algorithm("ippo", IPPO, PPO, "IPPO: individual policies, per-agent ratios, local critics"),
        Algorithm("happo", HAPPOPolicy, HAPPO,
                  "HAPPO: per-agent actors updated one after another in a random order, each advantage weighted "
                  "by the ratios of the agents before it; centralised critic",
                  config_defaults={"share_actor_params": False}),
        Algorithm("mat", MAT, PPO,
                  "MAT: transformer encoder over the agents' observations, autoregressive decoder of the joint "
                  "action; EXECUTES CENTRALLY (greedy play decodes each agent from the others' observations and "
                  "actions)", centralised_execution=True, config_defaults=_MAT_DEFAULTS),
        Algorithm("mat_dec", MATDec, PPO,
                  "MAT-Dec: MAT's encoder as the critic, decentralised per-agent MLP actors",
                  config_defaults=_MAT_DEFAULTS),
        Algorithm("ar_mappo", ARMAPPO, PPO,
                  "AR-MAPPO (the AgentMixer authors' baseline): per-agent actors that also read the earlier agents' "
                  "actions, acting in index order; EXECUTES CENTRALLY; --config.ar-mappo-order random (theirs) or "
                  "rollout", centralised_execution=True, config_defaults=_AR_MAPPO_DEFAULTS),
        Algorithm("masac", MASAC, SAC,
                  "MASAC: individual tanh-Gaussian / Gumbel-softmax policies, twin centralised soft Q critics, "
                  "an entropy temperature per agent; replay buffer"),
        Algorithm("ail", AIL, PPO,
                  "AIL: a centralised expert acts and learns by PPO; the individual policies imitate it by KL "
                  "(the expert's own greedy score is reported as expert_*)"),
    )
}


def names() -> tuple[str, ...]:
    return tuple(ALGORITHMS)


def get(name: str) -> Algorithm:
    """The registered algorithm `name`, or a ValueError listing the known ones."""
    if name not in ALGORITHMS:
        raise ValueError(f"algo={name!r} is unknown; choose one of {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]


def check_hparams(name: str, hp) -> None:
    """A ValueError where `hp` (concrete) sets a hyperparameter that algorithm `name`'s learner never reads."""
    target_kl = float(np.max(np.asarray(hp.target_kl)))
    if target_kl > 0 and not issubclass(get(name).learner, PPO):
        raise ValueError(f"hp.target_kl={target_kl:g} stops PPO's epochs early; {name} learns by "
                         f"{get(name).learner.__name__}, which has no epochs to stop: leave target_kl at 0")


def make_policy(name: str, spec, config) -> ActorCritic:
    """The policy of algorithm `name` for a task with `spec` (an `EnvSpec`)."""
    return get(name).policy(spec, config)


def executes_centrally(name: str) -> bool:
    """Whether algorithm `name`'s greedy play needs more than each agent's own observation (MAT, AR-MAPPO); False
    for names not in the registry (runs of older versions)."""
    algorithm = ALGORITHMS.get(name)
    return algorithm is not None and algorithm.centralised_execution


def table_name(name: str) -> str:
    """`name` as result tables print it: marked "(centralised execution)" where `executes_centrally`, so no table
    passes it off as decentralised."""
    return f"{name} (centralised execution)" if executes_centrally(name) else name
