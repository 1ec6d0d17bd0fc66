"""Static training configuration and traced hyperparameters.

`TrainConfig` holds the choices that fix shapes or control flow (sizes, steps, algorithm): it is a
frozen dataclass, hashed into the compiled program. `HParams` holds every float that can be a traced
value: a pytree whose leaves can be vmapped, so a sweep over them costs no recompilation:

    jax.jit(jax.vmap(jax.vmap(train, (0, None)), (None, 0)))(keys, grid)   # seeds x hparam grid
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import typing
from typing import Annotated, Literal

import jax
import jax.numpy as jnp
import numpy as np
import tyro
from flax import struct

Covariance = Literal["diag", "lowrank", "full"]
PMForm = Literal["gumbel", "authors", "joint", "autoregressive"]
TauSchedule = Literal["constant", "linear", "cosine", "step"]
PM_FORMS = typing.get_args(PMForm)
TAU_SCHEDULES = typing.get_args(TauSchedule)


@struct.dataclass
class HParams:
    """Traced hyperparameters (float leaves; vmappable). Defaults follow MAPPO (Yu et al. 2022)."""

    lr: float = 5e-4  # individual actors' learning rate
    critic_lr: float = 5e-4  # critic learning rate
    pm_lr: float = 5e-4  # Policy Modifier learning rate (AgentMixer only)
    clip_eps: float = 0.2  # PPO ratio clip
    ent_coef: float = 0.01  # entropy bonus
    vf_coef: float = 1.0  # value-loss weight
    gamma: float = 0.99  # discount
    gae_lambda: float = 0.95  # GAE lambda
    max_grad_norm: float = 10.0  # global-norm gradient clip, per parameter group
    gumbel_tau: float = 1.0  # temperature of the straight-through Gumbel-softmax sample (AgentMixer, discrete)
    igc_coef: float = 0.0  # AgentMixer, discrete: weight of cloning the joint actions into the individual policies
    distill_coef: float = 1.0  # AgentMixer joint / autoregressive forms: weight of the IGC distillation (KL)
    distill_coef_start: float = 0.1  # distill_schedule=linear: the weight at update 0, rising to distill_coef
    # AgentMixer with TrainConfig.pm_dropout_end: the pm_dropout rate in force this update. Not a setting: the
    # trainer writes it at every update from pm_dropout and pm_dropout_end, so a value given here is overwritten
    pm_dropout_now: float = 0.0
    tie_tol: float = 0.0  # AgentMixer joint form: joint actions within tie_tol nats of the best count as tied
    pm_y: float = 0.95  # AgentMixer authors' form: u = pm_y * sigmoid(pm_gain * b) (their mix_std_y_coef)
    pm_gain: float = 1.0  # AgentMixer authors' form: the sigmoid's gain (their sigmoid_gain)
    tau_decay: float = 1.5  # AgentMixer tau_schedule linear / cosine: the authors' decay_factor
    imitation_coef: float = 1.0  # AIL: weight of KL(expert || individual) in the loss
    std_max: float = 0.5  # AgentMixer, continuous: joint std = std_max * sigmoid(PM output) (authors: 0.5)
    huber_delta: float = 10.0  # value_loss="huber": the Huber loss's delta (MAPPO: 10)
    # PPO learners: > 0 ends an update's epochs early once a minibatch's approx KL (mean over the ratios) exceeds
    # 1.5 x target_kl, as Stable-Baselines3's PPO; 0 = off (every epoch runs)
    target_kl: float = 0.0
    # off-policy (SAC learner: masac, agentmixer_sac; learners/sac.py)
    polyak: float = 0.005  # SAC: target critics move this fraction toward the online critics per gradient step
    alpha_lr: float = 3e-4  # SAC: learning rate of the entropy temperature log alpha (0: alpha stays alpha_init)
    alpha_init: float = 1.0  # SAC: the entropy temperature at the start (Haarnoja et al. 2018: 1)
    # SAC: target entropy = -scale x action dims (continuous; SAC's -|A| at 1), scale x 0.98 x log|A| per agent
    # (discrete; Christodoulou 2019's SAC-Discrete at 1)
    target_entropy_scale: float = 1.0

    def as_floats(self) -> HParams:
        """The same hyperparameters as float32 arrays (what `train` traces)."""
        return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), self)

    @staticmethod
    def names() -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(HParams))

    def grid(self, **values) -> tuple[HParams, HParams, list[dict[str, float]]]:
        """The cartesian product of `values` (name -> list of floats) over these defaults.

        Returns (stacked hparams with a leading axis of size G on the swept leaves, the matching
        `in_axes` tree (0 on swept leaves, None elsewhere), the G settings as dicts). Use as
        `jax.vmap(jax.vmap(train, (0, None)), (None, in_axes))(keys, hp)`.
        """
        unknown = sorted(set(values) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown hyperparameters {unknown}; known: {', '.join(self.names())}")
        combos = [dict(zip(values, c)) for c in itertools.product(*values.values())]
        stacked = {k: jnp.asarray([c[k] for c in combos], jnp.float32) for k in values}
        in_axes = HParams(**{k: (0 if k in values else None) for k in self.names()})
        return self.replace(**stacked), in_axes, combos


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static choices of one training run (per seed). Validated by `validate()` before compilation."""

    # a name of agentmixer_jax.registry (the CLI sets it from --algo, and does not show it as --config.algo)
    algo: Annotated[str, tyro.conf.Suppress] = "agentmixer"
    num_envs: int = 16  # parallel environments per seed
    num_steps: int = 8  # rollout length per environment per update
    total_env_steps: int = 20_000  # environment steps per seed (each of the num_envs counts)
    update_epochs: int = 4  # PPO epochs per update
    num_minibatches: int = 2  # minibatches per epoch (must divide num_envs * num_steps; num_envs if recurrent)
    hidden_sizes: tuple[int, ...] = (64, 64)  # actor MLP layer widths
    activation: Literal["relu", "tanh", "gelu"] = "relu"  # activation of every network
    recurrent: bool = False  # GRU actors (hidden state carried through rollouts, reset at episode starts)
    gru_size: int = 64  # GRU hidden width (recurrent actors)
    share_actor_params: bool = True  # shared actor + one-hot agent id; False = per-agent parameters
    critic_hidden_sizes: tuple[int, ...] = (64, 64)  # critic MLP layer widths
    # the critic's network: mlp (an MLP on the global state, or the agent's own obs for IPPO, + a one-hot id) or
    # encoder (MAT's transformer encoder over every agent's observation, one value per agent: MAT-Dec's critic
    # given to any centralised-critic algorithm; widths mat_embd / mat_heads / mat_blocks)
    critic_arch: Literal["mlp", "encoder"] = "mlp"
    # centralised MLP critics: the agent's own observation appended to the global state, MAPPO's agent-specific
    # global state ("AS", Yu et al. 2022, arXiv 2103.01955, section 5.2: on the hard SMAC maps AS and its
    # feature-pruned form FP beat the environment-provided state EP, which is what the critic reads without it)
    critic_agent_obs: bool = False
    pm_channels: int = 64  # Policy Modifier: per-agent feature width C inside the mixer (AgentMixer)
    pm_blocks: int = 1  # Policy Modifier: number of (agent-mixing, channel-mixing) blocks
    pm_token_hidden: int = 32  # Policy Modifier: hidden width of the agent-mixing MLP
    pm_channel_hidden: int = 128  # Policy Modifier: hidden width of the channel-mixing MLP
    pm_agent_ids: bool = True  # one-hot ids into the PM; False makes the PM permutation-equivariant
    # Policy Modifier architecture (policy_modifier.py): mixer (ours: one input layer over the concatenated inputs)
    # or authors (their Action_Attention: an MLP on the state, an encoder per input group, LayerNorms inside the
    # mixer MLPs, orthogonal init; the agentmixer_authors preset, with their widths 64 / 32 / 256)
    pm_arch: Literal["mixer", "authors"] = "mixer"
    # AgentMixer's joint policy (policies/agentmixer.py): gumbel (ours: Gumbel noise shared with the PM), authors
    # (their exact form), joint (a PM over the product action space), autoregressive (agent i's PM term reads a_<i)
    pm_form: PMForm = "gumbel"
    pm_joint_max: int = 4096  # pm_form=joint: the largest product action space (A ** N joint actions) allowed
    # pm_form=joint or authors (discrete) with PPO: the probability that a step is acted (and re-scored) by the
    # product of the individual policies, the PM term off, so that the individual policies also learn from their own
    # decentralised play (ours, issue 12: the joint's conditionals do not carry into decentralised play under
    # partial observability; with pm_form=authors this is no longer the authors' exact method)
    pm_dropout: float = 0.0
    # pm_dropout > 0: draw it per step (each step acted by the individuals with probability pm_dropout) or per episode
    # (whole episodes acted by the individual policies alone, as decentralised execution is; ours)
    pm_dropout_per: Literal["step", "episode"] = "step"
    # pm_dropout > 0: None keeps the rate constant; a float in [0, 1] is the rate at the last update, reached
    # linearly from pm_dropout at update 0 (ours: at 1 training is handed over from the joint to the individual
    # policies, which end as MAPPO / IPPO would, started from what the joint policy learned)
    pm_dropout_end: float | None = None
    # pm_dropout_end set: the fraction of training (in [0, 1)) during which the rate stays at pm_dropout before it
    # moves linearly to pm_dropout_end over the rest (ours: the joint learns the task before handing it over)
    pm_dropout_hold: float = 0.0
    # pm_form=joint or autoregressive with PPO: clip the joint ratio (one per step) or each agent's chain-rule factor
    # p(a_i | a_<i) separately (factors, ours; as MAT clips its autoregressive factors, Wen et al. 2022), so that
    # the joint can move as far per update as N per-agent ratios do under MAPPO; the entropy bonus stays the joint's
    pm_ratio: Literal["joint", "factors"] = "joint"
    # pm_form=joint: the IGC distillation's target for agent i: the joint's conditional at its mode, p(a_i | m_-i)
    # (IGC: the individual modes become the joint's mode), or the joint's marginal p(a_i) (ours: the product of the
    # marginals is the product policy closest to the joint, argmin KL(joint || prod_i pi_i); no mode consistency
    # by construction)
    joint_distill: Literal["mode", "marginal"] = "mode"
    ar_reference: Literal["mode", "probs"] = "mode"  # pm_form=autoregressive with igc_exact: the reference r_<i
    ar_distill: Literal["soft", "hard"] = "soft"  # pm_form=autoregressive: distil onto the conditionals or the decode
    tau_schedule: TauSchedule = "constant"  # AgentMixer, discrete: gumbel_tau over training (the authors' decay_id)
    # pm_form=joint or autoregressive: the distillation weight constant (distill_coef) or linear (ours), rising from
    # hp.distill_coef_start at the first update to hp.distill_coef at the last, so the joint explores and learns
    # under a light pull before the individual policies are held to it
    distill_schedule: Literal["constant", "linear"] = "constant"
    igc_exact: bool = False  # discrete AgentMixer, gumbel / autoregressive forms: IGC by construction (exact)
    actor_joint_gradient: bool = True  # discrete AgentMixer: the joint PPO loss also trains the individual actors
    mat_embd: int = 64  # MAT / MAT-Dec: transformer width (MAT's n_embd)
    mat_heads: int = 1  # MAT / MAT-Dec: attention heads (n_head)
    mat_blocks: int = 1  # MAT / MAT-Dec: encoder and decoder blocks (n_block)
    # AR-MAPPO: re-score each stored step under a fresh random agent order every epoch (random, the authors'
    # ppo_update) or under the order the rollout acted in (rollout, ours: the first epoch's ratio is 1)
    ar_mappo_order: Literal["random", "rollout"] = "random"
    happo_fixed_order: bool = False  # HAPPO: update the agents in index order instead of a random order each update
    covariance: Covariance = "diag"  # continuous AgentMixer exploration covariance: diag, lowrank or full
    cov_rank: int = 2  # rank of the low-rank factor (covariance=lowrank)
    normalize_advantages: bool = True  # normalise advantages per minibatch
    clip_value_loss: bool = True  # PPO2/MAPPO value clipping around the old value
    # value loss: squared error; Huber with hp.huber_delta; or huber_mappo, the MAPPO codebase's one-sided Huber
    value_loss: Literal["mse", "huber", "huber_mappo"] = "mse"
    value_norm: bool = False  # MAPPO's ValueNorm: the critic predicts running-normalised returns
    popart: bool = False  # with value_norm: rescale the critic's output layer so its outputs survive a stats update
    normalize_inputs: bool = False  # running mean / std normalisation of observations and global state
    feature_norm: bool = False  # LayerNorm on every actor / critic input (MAPPO's use_feature_normalization)
    hidden_norm: bool = False  # LayerNorm after every hidden layer of the MLP actors / critics (MAPPO's MLPLayer)
    weight_init: Literal["normal", "orthogonal"] = "normal"  # actors and critics (gains sqrt 2 / 0.01 / 1)
    agent_id: bool = True  # shared actors: one-hot agent id appended to the observation
    gru_dense: bool = False  # recurrent networks: a Dense layer + activation after the GRU (JaxMARL's MAPPO)
    recurrent_critic: bool = False  # GRU critic over the state sequence (reset at episode starts; needs recurrent)
    anneal_lr: bool = False  # decay learning rates linearly to 0 over training
    eval_episodes: int = 8  # evaluation episodes per seed, decentralised mode actions
    # off-policy (SAC learner). An update collects num_steps x num_envs transitions into the replay buffer, then
    # takes utd_ratio x num_steps x num_envs gradient steps (an integer) on batches of sac_batch_size
    buffer_size: int = 100_000  # SAC: replay buffer capacity per seed, in transitions (oldest overwritten)
    sac_batch_size: int = 256  # SAC: transitions per gradient step
    utd_ratio: float = 0.25  # SAC: gradient steps per environment step (update-to-data ratio)
    warmup_steps: int = 1_000  # SAC: env steps per seed of uniformly random actions before the policy acts
    # SAC, discrete: exact expectations over all A ** N joint actions (SAC-Discrete; up to pm_joint_max of them) or
    # the straight-through Gumbel-softmax sample (any size; HARL's off-policy discrete actors)
    sac_discrete: Literal["exact", "gumbel"] = "exact"
    log_every: int = 0  # updates per chunk of the CLI: progress, divergence check (0: ~20 chunks, >= 5 updates each)

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        return self.total_env_steps // self.batch_size

    @property
    def log_interval(self) -> int:
        if self.log_every > 0:
            return self.log_every
        # about 20 chunks per run, but at least 5 updates each: every chunk boundary syncs with the host (metrics
        # fetched, finite check, progress), which short runs of one-update chunks would pay on every update
        return max(1, min(self.num_updates, max(5, self.num_updates // 20)))

    def validate(self) -> TrainConfig:
        """Raise a ValueError naming the field and the fix; return self when the config can work."""
        from agentmixer_jax import registry  # the registry imports the policies, which import this module
        from agentmixer_jax.learners.ppo import PPO

        algorithm = registry.get(self.algo)  # raises, listing the known algorithms
        for field in ("num_envs", "num_steps", "update_epochs", "num_minibatches", "gru_size", "pm_channels",
                      "pm_blocks", "pm_token_hidden", "pm_channel_hidden", "cov_rank", "eval_episodes", "mat_embd",
                      "mat_heads", "mat_blocks", "pm_joint_max"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field}={getattr(self, field)} must be >= 1")
        if self.total_env_steps < self.batch_size:
            raise ValueError(
                f"total_env_steps={self.total_env_steps} is smaller than one rollout "
                f"(num_envs * num_steps = {self.batch_size}); raise total_env_steps or shrink the rollout"
            )
        if self.recurrent:
            if self.num_envs % self.num_minibatches:
                raise ValueError(
                    f"num_minibatches={self.num_minibatches} must divide num_envs={self.num_envs} for "
                    "recurrent actors (minibatches are whole sequences); pick a divisor of num_envs"
                )
        elif self.batch_size % self.num_minibatches and not algorithm.learner.off_policy:
            raise ValueError(
                f"num_minibatches={self.num_minibatches} must divide the batch num_envs * num_steps = "
                f"{self.batch_size}; pick a divisor of {self.batch_size}"
            )
        if not self.hidden_sizes:
            raise ValueError("hidden_sizes must name at least one layer, e.g. (64, 64)")
        if self.activation not in ("relu", "tanh", "gelu"):
            raise ValueError(f"activation={self.activation!r}: choose relu, tanh or gelu")
        if self.pm_form not in PM_FORMS:
            raise ValueError(f"pm_form={self.pm_form!r}: choose one of {', '.join(PM_FORMS)}")
        if self.tau_schedule not in TAU_SCHEDULES:
            raise ValueError(f"tau_schedule={self.tau_schedule!r}: choose one of {', '.join(TAU_SCHEDULES)}")
        form = registry.get(self.algo).config_defaults.get("pm_form")
        if form is not None and self.pm_form != form:
            raise ValueError(f"algo={self.algo!r} is AgentMixer with pm_form={form!r}, but pm_form={self.pm_form!r}: "
                             f"use algo='agentmixer' with pm_form={self.pm_form!r}, or leave pm_form alone")
        if self.pm_form in ("authors", "joint") and self.igc_exact:
            raise ValueError(f"igc_exact=True belongs to pm_form='gumbel' or 'autoregressive'; pm_form="
                             f"{self.pm_form!r} "
                             "has its own consistency rule (see policies/agentmixer.py): leave igc_exact off")
        if not 0.0 <= self.pm_dropout < 1.0:
            raise ValueError(f"pm_dropout={self.pm_dropout}: a probability in [0, 1) (at 1 the Policy "
                             "Modifier would never act)")
        if self.pm_dropout > 0 and (self.pm_form not in ("joint", "authors")
                                    or registry.get(self.algo).learner is not PPO):
            raise ValueError(f"pm_dropout={self.pm_dropout} belongs to pm_form='joint' or 'authors' (discrete) "
                             f"trained by PPO (algo='agentmixer_joint' or 'agentmixer_authors'); algo={self.algo!r} "
                             f"with pm_form={self.pm_form!r}: set pm_dropout to 0")
        if self.pm_dropout_end is not None and (self.pm_dropout == 0 or not 0.0 <= self.pm_dropout_end <= 1.0):
            raise ValueError(f"pm_dropout_end={self.pm_dropout_end} (with pm_dropout={self.pm_dropout}): the rate "
                             "at the last update, a probability in [0, 1], scheduled from pm_dropout > 0: set "
                             "pm_dropout in (0, 1) and pm_dropout_end in [0, 1], or leave pm_dropout_end unset")
        if self.pm_dropout_hold != 0.0 and (self.pm_dropout_end is None or not 0.0 <= self.pm_dropout_hold < 1.0):
            raise ValueError(f"pm_dropout_hold={self.pm_dropout_hold} (with pm_dropout_end={self.pm_dropout_end}): "
                             "the fraction of training before the pm_dropout rate starts moving to pm_dropout_end, "
                             "in [0, 1), and only with pm_dropout_end set: set both, or leave pm_dropout_hold at 0")
        if self.pm_dropout_per not in ("step", "episode"):
            raise ValueError(f"pm_dropout_per={self.pm_dropout_per!r}: choose step or episode")
        if self.pm_dropout_per == "episode" and self.pm_dropout == 0:
            raise ValueError("pm_dropout_per='episode' draws pm_dropout once per episode, but pm_dropout=0: set "
                             "pm_dropout in (0, 1) (e.g. 0.5), or leave pm_dropout_per at 'step'")
        if self.joint_distill not in ("mode", "marginal"):
            raise ValueError(f"joint_distill={self.joint_distill!r}: choose mode or marginal")
        if self.joint_distill == "marginal" and self.pm_form != "joint":
            raise ValueError(f"joint_distill='marginal' distils onto the marginals of pm_form='joint'; pm_form="
                             f"{self.pm_form!r} has its own target (ar_distill for autoregressive): leave "
                             "joint_distill at 'mode'")
        if self.distill_schedule not in ("constant", "linear"):
            raise ValueError(f"distill_schedule={self.distill_schedule!r}: choose constant or linear")
        if self.distill_schedule == "linear" and self.pm_form not in ("joint", "autoregressive"):
            raise ValueError(f"distill_schedule='linear' schedules the IGC distillation of pm_form='joint' or "
                             f"'autoregressive'; pm_form={self.pm_form!r} distils nothing: leave distill_schedule "
                             "at 'constant'")
        if self.pm_ratio not in ("joint", "factors"):
            raise ValueError(f"pm_ratio={self.pm_ratio!r}: choose joint or factors")
        if self.pm_ratio == "factors" and (self.pm_form not in ("joint", "autoregressive")
                                           or registry.get(self.algo).learner is not PPO):
            raise ValueError(f"pm_ratio='factors' clips the chain-rule factors of pm_form='joint' or "
                             f"'autoregressive' trained by PPO (algo='agentmixer_joint' or 'agentmixer_ar'); "
                             f"algo={self.algo!r} with pm_form={self.pm_form!r}: leave pm_ratio at 'joint'")
        if self.pm_arch not in ("mixer", "authors"):
            raise ValueError(f"pm_arch={self.pm_arch!r}: choose mixer or authors")
        if self.pm_arch == "authors" and (self.pm_form == "gumbel" or not self.pm_agent_ids):
            raise ValueError(f"pm_arch='authors' is the authors' PM: it reads their inputs (log-probabilities, actor "
                             f"feature, state, one-hot ids), which pm_form='gumbel' (it also reads the samples) or "
                             f"pm_agent_ids=False do not give; got pm_form={self.pm_form!r}, pm_agent_ids="
                             f"{self.pm_agent_ids}: use pm_arch='mixer'")
        if self.pm_form == "authors" and self.covariance != "diag":
            raise ValueError(f"pm_form='authors' has a diagonal exploration scale (their Normal(means, std)); "
                             f"covariance={self.covariance!r} is ours: use covariance='diag' or pm_form='gumbel'")
        if self.ar_distill not in ("soft", "hard"):
            raise ValueError(f"ar_distill={self.ar_distill!r}: choose soft or hard")
        if self.ar_reference not in ("mode", "probs"):
            raise ValueError(f"ar_reference={self.ar_reference!r}: choose mode or probs")
        if self.ar_mappo_order not in ("random", "rollout"):
            raise ValueError(f"ar_mappo_order={self.ar_mappo_order!r}: choose random or rollout")
        if self.covariance not in ("diag", "lowrank", "full"):
            raise ValueError(f"covariance={self.covariance!r}: choose diag, lowrank or full")
        if self.value_loss not in ("mse", "huber", "huber_mappo"):
            raise ValueError(f"value_loss={self.value_loss!r}: choose mse, huber or huber_mappo")
        if self.weight_init not in ("normal", "orthogonal"):
            raise ValueError(f"weight_init={self.weight_init!r}: choose normal or orthogonal")
        if self.recurrent_critic and not self.recurrent:
            raise ValueError("recurrent_critic=True needs recurrent=True: minibatches must be whole sequences for a "
                             "GRU critic; set recurrent=True too")
        if self.popart and not self.value_norm:
            raise ValueError("popart=True preserves the critic's outputs across ValueNorm updates, but "
                             "value_norm=False: set value_norm=True too, or leave popart off")
        if self.critic_arch not in ("mlp", "encoder"):
            raise ValueError(f"critic_arch={self.critic_arch!r}: choose mlp or encoder")
        local = not getattr(algorithm.policy, "centralised_critic", True)  # AgentMixer's is a factory function
        if self.critic_agent_obs and (local or algorithm.learner.off_policy or self.critic_arch != "mlp"
                                      or self.algo in ("mat", "mat_dec")):
            raise ValueError(f"critic_agent_obs=True appends each agent's observation to the global state that a "
                             f"centralised MLP critic reads; algo={self.algo!r} with critic_arch="
                             f"{self.critic_arch!r} has no such critic (use mappo, happo or agentmixer with "
                             f"critic_arch='mlp'): leave critic_agent_obs off")
        if self.critic_arch == "encoder" or self.algo in ("mat", "mat_dec"):
            if self.mat_embd % self.mat_heads:
                raise ValueError(f"mat_heads={self.mat_heads} must divide mat_embd={self.mat_embd}: pick a divisor")
        if self.critic_arch == "encoder":
            why = ("has the encoder already" if self.algo in ("mat", "mat_dec") else
                   "learns Q critics (off-policy)" if algorithm.learner.off_policy else
                   "has local critics (use mappo for a centralised one)" if local else "")
            if why:
                raise ValueError(f"critic_arch='encoder' gives MAT's encoder as the critic to an on-policy algorithm "
                                 f"with a centralised critic; algo={self.algo!r} {why}: leave critic_arch='mlp'")
            for field in ("recurrent_critic", "popart"):
                if getattr(self, field):
                    raise ValueError(f"{field}=True needs the MLP critic (a GRU / a linear value head to rescale); "
                                     f"critic_arch='encoder' has neither: leave {field} off or use critic_arch='mlp'")
        if self.algo in ("mat", "mat_dec"):
            for field in ("recurrent", "recurrent_critic", "popart", "feature_norm", "hidden_norm"):
                if getattr(self, field):
                    raise ValueError(f"{field}=True does not apply to {self.algo} (transformer networks with their own "
                                     f"LayerNorms, no GRU and no separate critic head): leave {field} off")
        if algorithm.learner.off_policy:
            self._validate_off_policy()
        if self.gru_dense and not self.recurrent:
            raise ValueError("gru_dense=True adds a layer after the GRU, but recurrent=False: set recurrent=True "
                             "or leave gru_dense off")
        return self

    def _validate_off_policy(self) -> None:
        """The SAC learner's settings (replay buffer, update-to-data ratio, policies it can train)."""
        for field in ("buffer_size", "sac_batch_size"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field}={getattr(self, field)} must be >= 1")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps={self.warmup_steps} must be >= 0")
        if self.buffer_size < max(self.batch_size, self.sac_batch_size):
            raise ValueError(f"buffer_size={self.buffer_size} must hold one rollout (num_envs * num_steps = "
                             f"{self.batch_size}) and one batch (sac_batch_size={self.sac_batch_size}): raise it")
        steps = self.utd_ratio * self.batch_size
        if not (steps >= 1 and abs(steps - round(steps)) < 1e-9):
            nearest = max(1, round(steps)) / self.batch_size
            raise ValueError(f"utd_ratio={self.utd_ratio} x num_envs * num_steps = {self.batch_size} must be a whole "
                             f"number of gradient steps >= 1; e.g. utd_ratio={nearest:g}")
        for field in ("recurrent", "recurrent_critic", "value_norm", "popart"):
            if getattr(self, field):
                raise ValueError(f"{field}=True does not apply to {self.algo} (the SAC learner replays single "
                                 f"transitions to feed-forward actors and Q critics): leave {field} off")
        if self.sac_discrete not in ("exact", "gumbel"):
            raise ValueError(f"sac_discrete={self.sac_discrete!r}: choose exact or gumbel")
        if self.algo == "agentmixer_sac" and self.pm_form == "autoregressive":
            raise ValueError("pm_form='autoregressive' has no reparameterised joint sample for SAC: use "
                             "pm_form='joint' (discrete) or 'gumbel' / 'authors' (continuous)")

    def validate_for(self, spec, env_name: str = "this task") -> TrainConfig:
        """Raise a ValueError when a choice cannot work with the task's `EnvSpec`; return self otherwise."""
        if self.covariance != "diag" and spec.discrete:
            raise ValueError(f"covariance={self.covariance!r} applies to continuous actions only; {env_name} has "
                             "discrete actions: use covariance='diag' (the default)")
        if self.pm_form in ("joint", "autoregressive") and not spec.discrete:
            raise ValueError(f"pm_form={self.pm_form!r} is a distribution over discrete joint actions; {env_name} has "
                             "continuous actions: use pm_form='gumbel' (with covariance='lowrank' or 'full' for "
                             "correlated exploration) or pm_form='authors'")
        from agentmixer_jax import registry

        if registry.get(self.algo).learner.off_policy and spec.discrete and self.sac_discrete == "exact" \
                and spec.action_dim ** spec.num_agents > self.pm_joint_max:
            raise ValueError(f"sac_discrete='exact' sums over all {spec.action_dim}^{spec.num_agents} joint actions of "
                             f"{env_name}, above pm_joint_max={self.pm_joint_max:,}: use sac_discrete='gumbel' "
                             "(masac), or raise pm_joint_max if memory allows")
        if self.algo == "agentmixer_sac" and spec.discrete and self.pm_form != "joint":
            raise ValueError(f"algo='agentmixer_sac' on the discrete {env_name} needs a joint policy with a "
                             f"reparameterised sample and exact entropy: pm_form={self.pm_form!r} has neither; use "
                             "pm_form='joint' (the presets do)")
        if self.pm_form == "joint":
            joint = spec.action_dim ** spec.num_agents
            if joint > self.pm_joint_max:
                raise ValueError(
                    f"pm_form='joint' needs all {spec.action_dim}^{spec.num_agents} = {joint:,} joint actions of "
                    f"{env_name} per step, above pm_joint_max={self.pm_joint_max:,} (memory: num_envs x joint "
                    "actions x the PM width per step); use pm_form='autoregressive', which scales linearly in the "
                    "agents, or raise pm_joint_max if memory allows")
        return self


# name -> (low, high, low included, high included): the values a hyperparameter may take
HPARAM_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "lr": (0.0, math.inf, False, False),
    "critic_lr": (0.0, math.inf, False, False),
    "pm_lr": (0.0, math.inf, True, False),
    "clip_eps": (0.0, math.inf, False, False),
    "ent_coef": (0.0, math.inf, True, False),
    "vf_coef": (0.0, math.inf, True, False),
    "gamma": (0.0, 1.0, True, True),
    "gae_lambda": (0.0, 1.0, True, True),
    "max_grad_norm": (0.0, math.inf, False, False),
    "gumbel_tau": (0.0, math.inf, False, False),
    "igc_coef": (0.0, math.inf, True, False),
    "imitation_coef": (0.0, math.inf, True, False),
    "std_max": (0.0, math.inf, False, False),
    "huber_delta": (0.0, math.inf, False, False),
    "target_kl": (0.0, math.inf, True, False),
    "distill_coef": (0.0, math.inf, True, False),
    "distill_coef_start": (0.0, math.inf, True, False),
    "pm_dropout_now": (0.0, 1.0, True, True),
    "tie_tol": (0.0, math.inf, True, False),
    "pm_y": (0.0, 1.0, False, False),
    "pm_gain": (0.0, math.inf, False, False),
    "tau_decay": (0.0, math.inf, False, False),
    "polyak": (0.0, 1.0, False, True),
    "alpha_lr": (0.0, math.inf, True, False),
    "alpha_init": (0.0, math.inf, False, False),
    "target_entropy_scale": (0.0, math.inf, False, False),
}


def describe_range(name: str) -> str:
    """The allowed values of hyperparameter `name` in words, e.g. 'a finite number > 0'."""
    low, high, low_in, high_in = HPARAM_RANGES[name]
    if math.isinf(high):
        return f"a finite number {'>=' if low_in else '>'} {low:g}"
    return f"a number in {'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"


def validate_hparams(hp: HParams) -> None:
    """Check concrete (non-traced) hyperparameters; raise a ValueError naming the field and its allowed range.

    Non-finite values (inf, nan) are never allowed. Swept leaves (arrays) are checked element by element."""
    for name, (low, high, low_in, high_in) in HPARAM_RANGES.items():
        value = getattr(hp, name)
        if isinstance(value, jax.core.Tracer):
            continue
        values = np.asarray(value, np.float64).reshape(-1)
        above = values >= low if low_in else values > low
        below = values <= high if high_in else values < high
        bad = values[~(np.isfinite(values) & above & below)]
        if bad.size:
            default = getattr(HParams(), name)
            raise ValueError(f"hp.{name}={bad[0]:g} is out of range: {name} must be {describe_range(name)} "
                             f"(default {default:g})")
