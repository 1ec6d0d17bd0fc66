"""AR-MAPPO: MAPPO whose actors also read the actions of the agents that acted before them.

As the AgentMixer authors define it (LiZhYun/BackPropagationThroughAgents):
- the actor (bta/algorithms/ar_mappo/algorithm/r_actor_critic.py at 63b0a3a, `R_Actor.forward` /
  `evaluate_actions`): the observation features (MLP, optional GRU) concatenated with the one-hot actions of the
  other N-1 agents (in index order, the agent itself left out: "ego-exclusive"), each multiplied by an execution
  mask (1 where that agent acted before this one), into a linear action head. Continuous actions enter as they are.
- acting (bta/runner/ar/matrix_runner.py at 9be3285, `collect` and `eval`): agents act one after another in index
  order 0..N-1, agent i seeing the actions of agents 0..i-1; greedy evaluation decodes the same way, so
  **AR-MAPPO executes centrally** (each agent needs the earlier agents' actions at play time).
- training (bta/algorithms/ar_mappo/ar_mappo.py at 69975f4, `ppo_update`): per-agent clipped PPO ratios with each
  agent's advantage from a centralised critic, but every sample re-scored under a FRESH random agent order
  (`torch.randperm` per sample, `generate_mask_from_order`), not the order the rollout acted in. So the ratio of the
  first epoch is not 1: the behaviour log-probability conditioned on agents 0..i-1, the re-scored one on a random
  subset. `ar_mappo_order="random"` (the default) reproduces this; `ar_mappo_order="rollout"` (ours) re-scores
  under the rollout's order, a consistent PPO ratio.
- one policy and one trainer per agent (base_runner.py: `self.policy.append(...)` per agent_id): our preset sets
  `share_actor_params=False`; with shared actors the head's action weights are shared too.

Two differences from their code, neither changing what any agent's update sees in distribution: each of their
per-agent trainers draws its own random order per sample, here one order per sample serves every agent (agent i's
loss reads only which agents precede it, so its marginal is the same uniform permutation); and their per-agent
critics are one critic with a one-hot agent id here (as our MAPPO).

The linear head on [features, masked actions] is written as the individual actors' head on the features plus a
bias-free linear map of the masked actions (the same function and parameter count): `out.head` of MAPPO's actors
is the first term, `ar_head` the second, initialised like the head (gain 0.01, as the authors' ACTLayer).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from agentmixer_jax import distributions as D
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.networks import ActorOutput, kernel_init
from agentmixer_jax.policies.base import ActorCritic, PolicyStep
from envs.core import EnvSpec

Array = jax.Array


class OthersActionHead(nn.Module):
    """The action part of AR-MAPPO's linear head: x (N, (N-1) * A_in) masked actions of the other agents ->
    (N, A_out), without bias; one weight matrix per agent (`share_params=False`) or one for all."""

    num_agents: int
    out_dim: int
    share_params: bool
    weight_init: str = "normal"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        layer = nn.Dense(self.out_dim, use_bias=False, kernel_init=kernel_init(0.01, self.weight_init))
        if self.share_params:
            return layer(x)
        per_agent = nn.vmap(lambda mdl, xi: mdl(xi), in_axes=0, out_axes=0, variable_axes={"params": 0},
                            split_rngs={"params": True}, axis_size=self.num_agents)
        return per_agent(layer, x)


def order_precedence(order: Array) -> Array:
    """order (N,) a permutation (order[k] = the agent acting k-th) -> (N, N) float: [i, j] = 1 where agent j acts
    before agent i (`generate_mask_from_order` of the authors' bta/utils/util.py, with the diagonal 0)."""
    rank = jnp.argsort(order)  # rank[agent] = its position in the order
    return (rank[None, :] < rank[:, None]).astype(jnp.float32)


def random_orders(key: Array, shape: tuple[int, ...], n: int) -> Array:
    """shape + (n,) int32 uniformly random permutations of 0..n-1 (the argsort of i.i.d. uniforms)."""
    return jnp.argsort(jax.random.uniform(key, (*shape, n)), axis=-1).astype(jnp.int32)


class ARMAPPO(ActorCritic):
    name = "ar_mappo"
    centralised_critic = True
    joint_ratio = False  # K = N: each agent's conditional ratio

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        super().__init__(spec, config)
        n = spec.num_agents
        self.redraws_extras = config.ar_mappo_order == "random"  # the authors' mode: new orders every epoch
        self.ar_head = OthersActionHead(num_agents=n, out_dim=spec.action_dim, share_params=config.share_actor_params,
                                        weight_init=config.weight_init)
        # others[i] = the other agents in index order (the authors' ego-exclusive layout): (N, N-1) static
        self._others = np.array([[j for j in range(n) if j != i] for i in range(n)], np.int32).reshape(n, n - 1)

    # ----- parameters: MAPPO's + {"ar_head"} --------------------------------------------------------------
    def init(self, key: Array) -> dict:
        k_base, k_head = jax.random.split(key)
        params = super().init(k_base)
        params["ar_head"] = self.ar_head.init(k_head, jnp.zeros((self.num_agents, self._others_width())))["params"]
        return params

    @staticmethod
    def param_group(top_level_key: str) -> str:
        return {"ar_head": "actor"}.get(top_level_key, ActorCritic.param_group(top_level_key))

    def _others_width(self) -> int:
        return (self.num_agents - 1) * self.action_dim

    # ----- the conditional heads ------------------------------------------------------------------------
    def action_features(self, action: Array, mask: Array) -> Array:
        """(N, A) one-hot (discrete) or (N, d) masked raw actions (continuous) of a joint action."""
        if self.discrete:
            return jax.nn.one_hot(action, self.action_dim, dtype=jnp.float32)
        return jnp.where(mask, action, 0.0).astype(jnp.float32)

    def heads(self, params, out: ActorOutput, mask: Array, action: Array, precedence: Array) -> Array:
        """(N, A) logits (masked) or (N, d) means of every agent given the actions in `action` of the agents
        before it (`precedence` (N, N): [i, j] = 1 where j acts before i)."""
        n = self.num_agents
        feats = self.action_features(action, mask)  # (N, A)
        seen = precedence[:, :, None] * feats[None]  # (N, N, A): agent i's view of agent j's action
        others = jnp.take_along_axis(seen, jnp.asarray(self._others)[:, :, None], axis=1)  # (N, N-1, A)
        head = out.head + self.ar_head.apply({"params": params["ar_head"]}, others.reshape(n, -1))
        return jnp.where(mask, head, -1e9) if self.discrete else head

    def _log_prob_entropy(self, params, head: Array, mask: Array, action: Array):
        return self.individual_log_prob_entropy(params, ActorOutput(head=head, feature=head), mask, action)

    def sequential(self, params, out: ActorOutput, mask: Array, key: Array | None, greedy: bool) -> Array:
        """Agents 0..N-1 act in turn (the authors' rollout order), agent i from the actions of agents 0..i-1:
        sampled, or greedy with `greedy`."""
        n = self.num_agents
        keys = jax.random.split(jax.random.PRNGKey(0) if key is None else key, n)
        before = order_precedence(jnp.arange(n))
        dtype = jnp.int32 if self.discrete else jnp.float32

        def body(action, x):
            i, k = x
            head = jax.lax.dynamic_index_in_dim(self.heads(params, out, mask, action, before), i, keepdims=False)
            mask_i = jax.lax.dynamic_index_in_dim(mask, i, keepdims=False)
            if self.discrete:
                a_i = jnp.argmax(head) if greedy else D.categorical(head).sample(seed=k)
            else:
                std = jnp.exp(self.individual_log_std(params))
                a_i = jnp.where(mask_i, head if greedy else head + std * jax.random.normal(k, head.shape), 0.0)
            return jax.lax.dynamic_update_index_in_dim(action, a_i.astype(dtype), i, 0), None

        action, _ = jax.lax.scan(body, jnp.zeros(self.spec.action_shape(), dtype), (jnp.arange(n), keys))
        return action

    # ----- the policy ------------------------------------------------------------------------------------
    def act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams) -> PolicyStep:
        """Sequential sampling in index order; extras: the order (N,) the learner re-scores under (redrawn each
        epoch in the authors' mode)."""
        order = jnp.arange(self.num_agents, dtype=jnp.int32)
        action = self.sequential(params, out, mask, key, greedy=False)
        head = self.heads(params, out, mask, action, order_precedence(order))
        log_prob, _ = self._log_prob_entropy(params, head, mask, action)
        return PolicyStep(action, log_prob, order, {})

    def individual_act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams):
        return self.act(params, out, state, mask, key, hp)  # each agent's policy needs the earlier actions

    def evaluate(self, params, out: ActorOutput, state: Array, mask: Array, action: Array, extras, hp: HParams):
        """Every agent's log-probability of its stored action given the stored actions of the agents before it
        in the order `extras` (N,)."""
        head = self.heads(params, out, mask, action, order_precedence(extras))
        log_prob, entropy = self._log_prob_entropy(params, head, mask, action)
        return log_prob, entropy, jnp.zeros(()), {}

    def redraw_extras(self, key: Array, extras: Array) -> Array:
        """Fresh uniformly random agent orders for every stored step (..., N) (the authors' `ppo_update`)."""
        return random_orders(key, extras.shape[:-1], self.num_agents)

    def mode(self, params, out: ActorOutput, mask: Array) -> Array:
        """Greedy sequential decoding in index order (centralised: agent i reads the greedy actions of 0..i-1)."""
        return self.sequential(params, out, mask, None, greedy=True)
