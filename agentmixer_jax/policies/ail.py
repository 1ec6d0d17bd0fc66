"""AIL: asymmetric imitation learning, the baseline of AgentMixer's Section 4 (Li et al., AAAI 2025).

A centralised *expert* policy pi_E(a_i | s, i) sees the global state and acts in the environment; it is
trained by PPO (per-agent clipped ratios, centralised critic, as MAPPO). At the same time the
decentralised individual policies pi_i(a_i | o_i) imitate it on the states the expert visits, by
minimising KL(pi_E(. | s, i) || pi_i(. | o_i)) (the expert is held fixed inside the KL). At execution
only the individual policies run, taking their modes, like every algorithm here; the expert's own
greedy score is evaluated beside them (`expert_*` eval entries).

Because o_i is only part of s, the best an individual policy can do is the expert's action averaged
over the states that look the same to agent i. When the expert's choice for agent i depends on what
agent i cannot see (which bridge the *other* agent takes), the imitating agents can all pick the same
mode and fail together: the asymmetric learning failure that Individual-Global-Consistency avoids.

The expert is an MLP on [s, one-hot id] per agent (shared parameters), with masked logits (discrete)
or means plus a state-independent log std (continuous). Its parameters train with the actors'
learning rate `lr`; the imitation loss is weighted by `imitation_coef`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from agentmixer_jax import distributions as D
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.networks import MLP, ActorOutput, LogStd, dense
from agentmixer_jax.policies.base import ActorCritic, PolicyStep
from envs.core import EnvSpec

Array = jax.Array


class Expert(nn.Module):
    """pi_E(. | s, i) for all agents: state (S,), mask (N, A) -> head (N, A) (masked logits or means)."""

    num_agents: int
    action_dim: int
    discrete: bool
    hidden_sizes: tuple[int, ...]
    activation: str

    @nn.compact
    def __call__(self, state: Array, mask: Array) -> Array:
        n = self.num_agents
        x = jnp.concatenate([jnp.broadcast_to(state, (n, state.shape[-1])), jnp.eye(n, dtype=state.dtype)], -1)
        head = dense(self.action_dim, gain=0.01, name="head")(MLP(self.hidden_sizes, self.activation)(x))
        return jnp.where(mask, head, -1e9) if self.discrete else head


def categorical_kl(p_logits: Array, q_logits: Array) -> Array:
    """KL(p || q) per agent: (N, A) masked logits -> (N,). Masked actions have p = 0 and add nothing."""
    log_p = jax.nn.log_softmax(p_logits, -1)
    log_q = jax.nn.log_softmax(q_logits, -1)
    return jnp.sum(jnp.exp(log_p) * (log_p - log_q), -1)


def diag_normal_kl(mu_p: Array, log_std_p: Array, mu_q: Array, log_std_q: Array, dim_mask: Array) -> Array:
    """KL(N(mu_p, s_p) || N(mu_q, s_q)) per agent over its owned dimensions: (N, d) -> (N,)."""
    var_p, var_q = jnp.exp(2 * log_std_p), jnp.exp(2 * log_std_q)
    kl = log_std_q - log_std_p + (var_p + (mu_p - mu_q) ** 2) / (2 * var_q) - 0.5
    return jnp.sum(jnp.where(dim_mask, kl, 0.0), -1)


class AIL(ActorCritic):
    name = "ail"
    centralised_critic = True
    joint_ratio = False

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        super().__init__(spec, config)
        self.expert = Expert(num_agents=spec.num_agents, action_dim=spec.action_dim, discrete=spec.discrete,
                             hidden_sizes=tuple(config.critic_hidden_sizes), activation=config.activation)
        self.expert_log_std = None if spec.discrete else LogStd(spec.action_dim)

    def init(self, key: Array) -> dict:
        k_base, k_expert, k_std = jax.random.split(key, 3)
        params = super().init(k_base)
        _, state, mask = self.dummy_inputs()
        params["expert"] = self.expert.init(k_expert, state, mask)["params"]
        if self.expert_log_std is not None:
            params["expert_log_std"] = self.expert_log_std.init(k_std)["params"]
        return params

    @staticmethod
    def param_group(top_level_key: str) -> str:
        return {"expert": "actor", "expert_log_std": "actor"}.get(top_level_key,
                                                                  ActorCritic.param_group(top_level_key))

    # ----- the expert ---------------------------------------------------------------------------
    def expert_head(self, params, state: Array, mask: Array) -> Array:
        return self.expert.apply({"params": params["expert"]}, state, mask)

    def _expert_log_std(self, params, shape) -> Array:
        return jnp.broadcast_to(params["expert_log_std"]["log_std"], shape)

    def expert_log_prob_entropy(self, params, head: Array, mask: Array, action: Array):
        if self.discrete:
            dist = D.categorical(head)
            return dist.log_prob(action), dist.entropy()
        return D.diag_normal_logp_entropy(head, self._expert_log_std(params, head.shape), mask, action)

    def expert_mode(self, params, out: ActorOutput, state: Array, mask: Array) -> Array:
        head = self.expert_head(params, state, mask)
        if self.discrete:
            return jnp.argmax(head, axis=-1).astype(jnp.int32)
        return jnp.where(mask, head, 0.0)

    def eval_policies(self) -> dict:
        return {**super().eval_policies(), "expert_": self.expert_mode}

    def imitation_kl(self, params, out: ActorOutput, head: Array, mask: Array) -> Array:
        """(N,) KL(expert || individual); gradients reach only the individual policies."""
        head = jax.lax.stop_gradient(head)
        if self.discrete:
            return categorical_kl(head, out.head)
        log_std_e = jax.lax.stop_gradient(self._expert_log_std(params, head.shape))
        log_std_i = jnp.broadcast_to(self.individual_log_std(params), head.shape)
        return diag_normal_kl(head, log_std_e, out.head, log_std_i, mask)

    # ----- the behaviour policy is the expert --------------------------------------------------
    def act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams) -> PolicyStep:
        head = self.expert_head(params, state, mask)
        if self.discrete:
            action = D.categorical(head).sample(seed=key).astype(jnp.int32)
        else:
            std = jnp.exp(self._expert_log_std(params, head.shape))
            action = jnp.where(mask, head + std * jax.random.normal(key, head.shape), 0.0)
        log_prob, _ = self.expert_log_prob_entropy(params, head, mask, action)
        metrics = {}
        if self.discrete:  # how often the individual greedy action is the expert's
            metrics["mode_agreement"] = jnp.mean(jnp.argmax(head, -1) == jnp.argmax(out.head, -1))
        return PolicyStep(action, log_prob, (), metrics)

    def evaluate(self, params, out: ActorOutput, state: Array, mask: Array, action: Array, extras, hp: HParams):
        head = self.expert_head(params, state, mask)
        log_prob, entropy = self.expert_log_prob_entropy(params, head, mask, action)
        kl = jnp.mean(self.imitation_kl(params, out, head, mask))
        return log_prob, entropy, hp.imitation_coef * kl, {"imitation_kl": kl}
