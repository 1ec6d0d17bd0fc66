"""The policy interface every algorithm implements, and its default: independent individual policies.

A policy owns its networks (individual actors, critic, optional Policy Modifier or expert) and pure functions
over ONE joint step of N agents; `agentmixer_jax.acting` vmaps them over environments, the learners over time:

    actor_step(params, h, obs, mask, reset) -> (h', out)     the individual actors (recurrent state handled once)
    act(params, out, state, mask, key, hp) -> PolicyStep     sample the behaviour action for the rollout
    evaluate(params, out, state, mask, action, extras, hp)   log-prob / entropy / auxiliary loss for re-scoring
    mode(params, out, mask) -> action                        decentralised greedy action (evaluation, IGC)
    value(params, obs, state) -> (N,)                        the critic

`out` is the individual actors' output (`ActorOutput`). Log-probabilities have K entries: K = 1 for a joint
ratio (AgentMixer), K = N for per-agent ratios (MAPPO, IPPO); `policy_advantage` maps the per-agent advantages
(N,) to the K advantages of those ratios.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from agentmixer_jax import distributions as D
from agentmixer_jax import normalization as norm
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.networks import ActorOutput, Critic, IndividualActors, LogStd, RecurrentCritic
from agentmixer_jax.transformer import Encoder
from envs.core import EnvSpec

Array = jax.Array


@struct.dataclass
class PolicyStep:
    action: Array  # (N,) int32 or (N, d) float32: the unclipped sample
    log_prob: Array  # (K,) float32
    extras: Any  # what `evaluate` needs to re-score the action (e.g. the Gumbel noise); may be ()
    metrics: dict  # scalars averaged into the update metrics


@struct.dataclass
class SACSample:
    """A reparameterised sample of the training policy for the SAC learner (one joint step)."""

    action: Array  # (N,) int32 or (N, d) the Gaussian sample before the tanh: what the replay buffer stores
    q_action: Array  # (N, A) straight-through one-hot or (N, d) tanh(action): the critics' input, differentiable
    log_prob: Array  # (K,) log-density of q_action (continuous: after the tanh) or, discrete, minus the exact
    # entropy (the expectation of log pi, with its exact gradient); K = N per agent (MASAC) or 1 (joint)
    aux_loss: Array  # () a policy's own term in the actor loss (AgentMixer joint form: the IGC distillation)
    metrics: dict  # scalars


def joint_actions(num_agents: int, num_actions: int) -> Array:
    """(A ** N, N) int32: every joint action, agent 0 the most significant digit (index = sum_i a_i A^(N-1-i))."""
    grid = np.unravel_index(np.arange(num_actions ** num_agents), (num_actions,) * num_agents)
    return jnp.asarray(np.stack(grid, -1), jnp.int32)


class ActorCritic:
    """Individual actors with a per-agent critic. Subclasses choose the critic input and the policy."""

    name = "base"
    centralised_critic = True  # critic sees the global state (True) or each agent's own obs (False)
    joint_ratio = False  # K = 1 (joint) or K = N (per agent)
    # True where `act` takes a per-episode key (`episode_key=`, drawn by Acting at each episode's start)
    uses_episode_key = False

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        self.spec = spec
        self.config = config
        self.num_agents = spec.num_agents
        self.discrete = spec.discrete
        self.action_dim = spec.action_dim
        self.actor = IndividualActors(
            num_agents=spec.num_agents, action_dim=spec.action_dim, discrete=spec.discrete,
            hidden_sizes=config.hidden_sizes, activation=config.activation,
            share_params=config.share_actor_params, recurrent=config.recurrent, gru_size=config.gru_size,
            weight_init=config.weight_init, feature_norm=config.feature_norm, gru_dense=config.gru_dense,
            agent_id=config.agent_id, hidden_norm=config.hidden_norm)
        if config.critic_arch == "encoder":  # MAT's encoder over the agents' observations (MAT-Dec's critic)
            self.critic = Encoder(embd=config.mat_embd, heads=config.mat_heads, blocks=config.mat_blocks)
        elif config.recurrent_critic:
            self.critic = RecurrentCritic(config.critic_hidden_sizes, config.activation, config.gru_size,
                                          weight_init=config.weight_init, feature_norm=config.feature_norm,
                                          gru_dense=config.gru_dense, hidden_norm=config.hidden_norm)
        else:
            self.critic = Critic(config.critic_hidden_sizes, config.activation, weight_init=config.weight_init,
                                 feature_norm=config.feature_norm, hidden_norm=config.hidden_norm)
        self.log_std = None if spec.discrete else LogStd(spec.action_dim)

    # ----- parameters -------------------------------------------------------------------------
    def dummy_inputs(self):
        n = self.num_agents
        obs = jnp.zeros((n, self.spec.obs_dim), jnp.float32)
        state = jnp.zeros((self.spec.state_dim,), jnp.float32)
        mask = jnp.ones((n, self.action_dim), bool)
        return obs, state, mask

    def init(self, key: Array) -> dict:
        """Parameters, grouped by top-level key: actor (+ log_std), critic (+ pm)."""
        k_actor, k_critic, k_extra = jax.random.split(key, 3)
        obs, state, mask = self.dummy_inputs()
        params = {
            "actor": self.actor.init(k_actor, self.initial_hidden(), obs, mask, jnp.bool_(True))["params"],
            "critic": self.critic.init(k_critic, *self._critic_args(self.initial_critic_hidden(),
                                                                  self.critic_input(obs, state)))["params"],
        }
        if self.log_std is not None:
            params["log_std"] = self.log_std.init(k_extra)["params"]
        return {**params, **self.input_norm_params()}

    def input_norm_params(self) -> dict:
        """{"input_norm": fresh running statistics of obs and state} with `normalize_inputs`, {} otherwise."""
        if not self.config.normalize_inputs:
            return {}
        return {"input_norm": {"obs": norm.rms_init(self.spec.obs_dim), "state": norm.rms_init(self.spec.state_dim)}}

    @staticmethod
    def param_group(top_level_key: str) -> str:
        """Optimiser group of a top-level parameter key: actor, critic, pm, or frozen (running statistics)."""
        return {"log_std": "actor", "input_norm": "frozen"}.get(top_level_key, top_level_key)

    # ----- input normalisation (running statistics kept in params["input_norm"], never trained) -----------
    def inputs(self, params, obs: Array, state: Array) -> tuple[Array, Array]:
        """(obs (..., N, obs_dim), state (..., state_dim)) as the networks see them: normalised by the running
        statistics in `params` with `normalize_inputs`, unchanged otherwise. Every caller that feeds the env's
        observations to the policy (acting, the learners' losses and values, playback) goes through here."""
        if "input_norm" not in params:
            return obs, state
        stats = params["input_norm"]
        return norm.rms_normalize(stats["obs"], obs), norm.rms_normalize(stats["state"], state)

    def obs_inputs(self, params, obs: Array) -> Array:
        """Observations (..., obs_dim) alone as the actors see them (`inputs` without the state)."""
        if "input_norm" not in params:
            return obs
        return norm.rms_normalize(params["input_norm"]["obs"], obs)

    def state_inputs(self, params, state: Array) -> Array:
        """The global state (..., state_dim) alone as the critics see it (`inputs` without the observations)."""
        if "input_norm" not in params:
            return state
        return norm.rms_normalize(params["input_norm"]["state"], state)

    def update_input_norm(self, params, obs: Array, state: Array):
        """params with the running statistics updated by a batch of raw obs (..., N, obs_dim) and state
        (..., state_dim); unchanged without `normalize_inputs`."""
        if "input_norm" not in params:
            return params
        stats = params["input_norm"]
        return {**params, "input_norm": {"obs": norm.rms_update(stats["obs"], obs),
                                         "state": norm.rms_update(stats["state"], state)}}

    def initial_hidden(self) -> Array:
        """(N, gru_size) zeros: the recurrent state at an episode start."""
        return self.actor.initial_state()

    # ----- networks ---------------------------------------------------------------------------
    def actor_step(self, params, h: Array, obs: Array, mask: Array, reset: Array) -> tuple[Array, ActorOutput]:
        return self.actor.apply({"params": params["actor"]}, h, obs, mask, reset)

    def critic_input(self, obs: Array, state: Array) -> Array:
        """(N, in): the global state (centralised; with critic_agent_obs the agent's own obs after it) or the
        agent's own obs (local), plus a one-hot id; with critic_arch='encoder' the observations (N, obs_dim) alone:
        row i's value reads agent i's obs through the residual path and the others' through attention."""
        if self.config.critic_arch == "encoder":
            return obs
        ids = jnp.eye(self.num_agents, dtype=jnp.float32)
        if self.centralised_critic:
            x = jnp.broadcast_to(state, (self.num_agents, state.shape[-1]))
            if self.config.critic_agent_obs:
                x = jnp.concatenate([x, obs], axis=-1)
        else:
            x = obs
        return jnp.concatenate([x, ids], axis=-1)

    def _critic_args(self, h: Array | None, x: Array) -> tuple:
        """The critic's init arguments: (h, x, reset) for a recurrent critic, (x,) otherwise."""
        return (h, x, jnp.bool_(True)) if self.config.recurrent_critic else (x,)

    def initial_critic_hidden(self) -> Array | None:
        """(N, gru_size) zeros for a recurrent critic; None (nothing to carry) otherwise."""
        if not self.config.recurrent_critic:
            return None
        return jnp.zeros((self.num_agents, self.config.gru_size), jnp.float32)

    def value(self, params, obs: Array, state: Array) -> Array:
        """(N,) per-agent values of a feed-forward critic."""
        values = self.critic.apply({"params": params["critic"]}, self.critic_input(obs, state))
        return values[0] if self.config.critic_arch == "encoder" else values  # the encoder: (values, reps)

    def rescale_value_head(self, params, fn):
        """params with the critic's linear output layer replaced by fn(kernel (H, 1), bias (1,)) -> (kernel, bias)
        (PopArt). The output layer is the critic's top-level `Dense_0`, feed-forward or recurrent."""
        head = params["critic"]["Dense_0"]
        kernel, bias = fn(head["kernel"], head["bias"])
        return {**params, "critic": {**params["critic"], "Dense_0": {"kernel": kernel, "bias": bias}}}

    def value_step(self, params, h: Array, obs: Array, state: Array, reset: Array) -> tuple[Array, Array]:
        """(h', (N,) values): one step of the critic, recurrent (state zeroed where `reset`) or not (h unchanged)."""
        if not self.config.recurrent_critic:
            return h, self.value(params, obs, state)
        return self.critic.apply({"params": params["critic"]}, h, self.critic_input(obs, state), reset)

    # ----- individual policies ----------------------------------------------------------------
    def individual_log_std(self, params) -> Array:
        return params["log_std"]["log_std"]

    def individual_log_prob_entropy(self, params, out: ActorOutput, mask: Array, action: Array):
        """Per-agent (log_prob (N,), entropy (N,)) of the individual policies."""
        if self.discrete:
            dist = D.categorical(out.head)
            return dist.log_prob(action), dist.entropy()
        log_std = jnp.broadcast_to(self.individual_log_std(params), out.head.shape)
        return D.diag_normal_logp_entropy(out.head, log_std, mask, action)

    def mode(self, params, out: ActorOutput, mask: Array) -> Array:
        """Decentralised greedy action of the individual policies (IGC: also the joint mode)."""
        if self.discrete:
            return jnp.argmax(out.head, axis=-1).astype(jnp.int32)
        return jnp.where(mask, out.head, 0.0)

    def eval_policies(self) -> dict:
        """Greedy policies evaluated after training: eval-key prefix -> fn(params, out, state, mask) -> action.

        The unprefixed entry is always the decentralised individual modes; AIL adds its expert's."""
        return {"": lambda params, out, state, mask: self.mode(params, out, mask)}

    def schedule_hparams(self, hp: HParams, update: Array) -> HParams:
        """The hyperparameters of update number `update` (() int32), for schedules the policy owns (AgentMixer's
        temperature); unchanged by default."""
        return hp

    # ----- off-policy (SAC): a reparameterised sample the Q critics differentiate through --------
    sac_per_agent_alpha = True  # SAC: an entropy temperature per agent (K = N); False: one on the joint (K = 1)

    def sac_log_std(self, params, out: ActorOutput) -> Array:
        """(N, d) log std of the individual Gaussians (state-independent here; MASAC's depends on the state)."""
        return jnp.broadcast_to(self.individual_log_std(params), out.head.shape)

    def sac_group(self, x: Array) -> Array:
        """Per-agent (..., N) -> the K entropy groups (..., K): unchanged per agent, summed for a joint."""
        return x if self.sac_per_agent_alpha else jnp.sum(x, -1, keepdims=True)

    def sac_sample(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams
                   ) -> SACSample:
        """The product of the individual policies: Gumbel-softmax one-hots (discrete) or tanh-squashed Gaussians."""
        if self.discrete:
            action, q_action = D.gumbel_one_hot(out.head, key, hp.gumbel_tau)
            log_prob = -D.categorical(out.head).entropy()
        else:
            log_std = self.sac_log_std(params, out)
            action = jnp.where(mask, out.head + jnp.exp(log_std) * jax.random.normal(key, out.head.shape), 0.0)
            log_prob, _ = D.diag_normal_logp_entropy(out.head, log_std, mask, action)
            q_action, log_det = D.tanh_squash(action, mask)
            log_prob = log_prob - log_det
        return SACSample(action, q_action, self.sac_group(log_prob), jnp.zeros(()), {})

    def sac_joint(self, params, out: ActorOutput, state: Array, mask: Array, combos: Array, hp: HParams
                  ) -> SACSample:
        """Discrete, exact (SAC-Discrete, Christodoulou 2019): the log-probabilities of every joint action `combos`
        (J, N) as `q_action` (J,), and the groups' minus exact entropies as `log_prob` (K,); `action` unused."""
        logp = jax.nn.log_softmax(out.head, -1)
        joint = jnp.sum(logp[jnp.arange(self.num_agents), combos], -1)
        neg_entropy = jnp.sum(jnp.exp(logp) * logp, -1)
        return SACSample(jnp.zeros(()), joint, self.sac_group(neg_entropy), jnp.zeros(()), {})

    def sac_q_action(self, action: Array, mask: Array) -> Array:
        """The critics' input for a stored action: (N, A) one-hot or (N, d) tanh(action)."""
        if self.discrete:
            return jax.nn.one_hot(action, self.action_dim, dtype=jnp.float32)
        return D.tanh_squash(action, mask)[0]

    def sac_target_entropy(self, mask: Array, hp: HParams) -> Array:
        """(K,) target entropies: -scale x owned dims (continuous), scale x 0.98 log|A| per agent (discrete)."""
        if self.discrete:
            per_agent = jnp.full((self.num_agents,), 0.98 * jnp.log(float(self.action_dim)))
        else:
            per_agent = -jnp.sum(mask, -1).astype(jnp.float32)
        return hp.target_entropy_scale * self.sac_group(per_agent)

    # ----- policy used in training (default: independent individual policies) -----------------
    def act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams) -> PolicyStep:
        if self.discrete:
            action = D.categorical(out.head).sample(seed=key).astype(jnp.int32)
        else:
            std = jnp.exp(self.individual_log_std(params))
            action = jnp.where(mask, out.head + std * jax.random.normal(key, out.head.shape), 0.0)
        log_prob, _ = self.individual_log_prob_entropy(params, out, mask, action)
        return PolicyStep(action, log_prob, (), {})

    def individual_act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams
                       ) -> PolicyStep:
        """Each agent samples its own individual policy (what playback's `sample` shows; never a joint policy or
        an expert). Policies without individual policies (MAT) sample their own policy instead."""
        return ActorCritic.act(self, params, out, state, mask, key, hp)

    def evaluate(self, params, out: ActorOutput, state: Array, mask: Array, action: Array, extras, hp: HParams):
        """(log_prob (K,), entropy (K,), auxiliary loss (), metrics dict)."""
        log_prob, entropy = self.individual_log_prob_entropy(params, out, mask, action)
        return log_prob, entropy, jnp.zeros(()), {}

    # PPO: extras redrawn before every epoch (AR-MAPPO's random agent orders); off for every other policy
    redraws_extras = False

    def redraw_extras(self, key: Array, extras):
        """The stored extras (T, E, ...) with fresh randomness for this epoch's re-scoring (`redraws_extras`)."""
        return extras

    def policy_advantage(self, advantages: Array) -> Array:
        """Per-agent advantages (..., N) -> the K advantages of the ratios (..., K)."""
        if self.joint_ratio:
            return jnp.mean(advantages, axis=-1, keepdims=True)
        return advantages
