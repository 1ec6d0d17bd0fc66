"""HAPPO's policy (Kuba et al., ICLR 2022, "Trust Region Policy Optimisation in Multi-Agent Reinforcement
Learning"): MAPPO's individual actors and centralised critic, with one agent's actor reachable on its own so the
learner (`agentmixer_jax.learners.happo`) can update the agents one after another.

With per-agent parameters (`share_actor_params=False`, HAPPO's preset default, what the theory assumes) each agent
also has its own exploration scale on continuous tasks: `log_std` is (N, d), where MAPPO shares one (d,).
With shared parameters every agent's turn updates the same actor on that agent's data, as HARL's `share_param`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agentmixer_jax import distributions as D
from agentmixer_jax.config import TrainConfig
from agentmixer_jax.networks import ActorOutput
from agentmixer_jax.policies.base import ActorCritic
from envs.core import EnvSpec

Array = jax.Array


class HAPPOPolicy(ActorCritic):
    name = "happo"
    centralised_critic = True

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        super().__init__(spec, config)
        self.core = self.actor.core_module()
        self.shared = config.share_actor_params

    def init(self, key: Array) -> dict:
        params = super().init(key)
        if "log_std" in params and not self.shared:  # one exploration scale per agent
            log_std = params["log_std"]["log_std"]
            params["log_std"] = {"log_std": jnp.broadcast_to(log_std, (self.num_agents, *log_std.shape))}
        return params

    # ----- one agent's parameters: {"actor": its actor core's, "log_std": (d,)} ---------------------------
    def agent_params(self, params, i: Array) -> dict:
        """Agent i's trainable parameters (i may be traced). With shared parameters: the shared actor."""
        take = (lambda x: x) if self.shared else (lambda x: jax.lax.dynamic_index_in_dim(x, i, keepdims=False))
        out = {"actor": jax.tree.map(take, params["actor"]["shared" if self.shared else "per_agent"])}
        if "log_std" in params:
            out["log_std"] = take(params["log_std"]["log_std"])
        return out

    def all_agent_params(self, params) -> dict:
        """Every agent's trainable parameters at once: stacked on a leading N axis (per-agent), or the shared set."""
        if self.shared:
            return self.agent_params(params, 0)
        out = {"actor": params["actor"]["per_agent"]}
        if "log_std" in params:
            out["log_std"] = params["log_std"]["log_std"]
        return out

    def set_agent_params(self, params, i: Array, agent: dict) -> dict:
        """params with agent i's trainable parameters replaced by `agent` (the inverse of `agent_params`)."""
        if self.shared:
            new = {**params, "actor": {"shared": agent["actor"]}}
            put = lambda x, v: v
        else:
            put = lambda x, v: jax.lax.dynamic_update_index_in_dim(x, v, i, axis=0)
            new = {**params, "actor": {"per_agent": jax.tree.map(put, params["actor"]["per_agent"], agent["actor"])}}
        if "log_std" in params:
            new["log_std"] = {"log_std": put(params["log_std"]["log_std"], agent["log_std"])}
        return new

    def agent_step(self, agent: dict, i: Array, h: Array, obs: Array, mask: Array, reset: Array):
        """Agent i alone: h (gru_size,), obs (obs_dim,) as the networks see it, mask (A,) or (d,) ->
        (h', ActorOutput with head (A,) or (d,)); equals row i of `actor_step` with the same parameters."""
        x = obs
        if self.shared and self.config.agent_id:
            x = jnp.concatenate([obs, jax.nn.one_hot(i, self.num_agents, dtype=obs.dtype)])
        h, head, feat = self.core.apply({"params": agent["actor"]}, h, x, reset)
        if self.discrete:
            head = jnp.where(mask, head, -1e9)
        return h, ActorOutput(head=head, feature=feat)

    def agent_log_prob_entropy(self, agent: dict, out: ActorOutput, mask: Array, action: Array):
        """(log_prob (), entropy ()) of agent i's policy for its action (A-way index or (d,) vector)."""
        if self.discrete:
            dist = D.categorical(out.head)
            return dist.log_prob(action), dist.entropy()
        logp, ent = D.diag_normal_logp_entropy(out.head[None], agent["log_std"][None], mask[None], action[None])
        return logp[0], ent[0]
