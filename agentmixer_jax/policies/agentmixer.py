"""AgentMixer (Li, Zhao, Wu, Pajarinen, AAAI 2025, arXiv 2401.08728): a Policy Modifier turns the
decentralised individual policies into a correlated joint policy, trained by PPO on the joint ratio
with a centralised critic; at execution only the individual policies run, taking their modes.

Continuous actions (IGC by construction). The joint mean is the concatenation of the individual
means; the PM sets the exploration scale, std = std_max * sigmoid(PM) (diagonal, as in the authors'
code), optionally with a low-rank factor or a full lower-triangular scale over all N x d dimensions,
which makes exploration truly correlated across agents. The mode of the joint is its mean, i.e. the
tuple of individual modes, whatever the PM outputs.

Discrete actions (Gumbel form). Each agent draws its individual action by the Gumbel-max trick,
u_i = argmax(l_i + g_i) with g_i ~ Gumbel(0, 1) (a straight-through Gumbel-softmax sample, so gradients
reach the actors). The PM reads every agent's sample u, policy, hidden feature and the global state, and
outputs b (N, A), turned into Gumbel-distributed perturbations G(b) = -log(-log(sigmoid(b))) as in the
authors' code. The joint policy perturbs each agent's Gumbel-perturbed logits:

    z_i = (l_i + g_i + G(b_i(u, s))) / tau,        a_i ~ Cat(z_i)

With G(b) constant (the zero-initialised PM) a_i follows the agent's own sample u_i; a trained PM moves
agent i's action as a function of the other agents' samples, which correlates the joint action. The
noise g is stored with the transition, so the PPO ratio re-scores exactly the same conditional policy
pi(a | s, g). IGC is not exact here: `mode_consistency` (argmax of z_i equals argmax l_i when g = 0)
is logged, and the `igc_coef` term clones the joint actions into the individual policies (the authors'
"BC" term), which pulls the individual modes onto the joint policy's.

`igc_exact=True` makes IGC hold by construction instead: the PM output only *lowers* the logits of the
actions other than agent i's own sample, z_i = (l_i + g_i - softplus(b_i) * [a != u_i]) / tau, so
argmax z_i = u_i and, at zero noise, the joint mode is the tuple of individual modes. The PM then
shapes how likely each agent is to deviate from its own sample given the others' samples (correlated
exploration), while anything the team learns to do greedily must be learnt by the individual policies.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agentmixer_jax import distributions as D
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.networks import ActorOutput
from agentmixer_jax.policies.base import ActorCritic, PolicyStep
from agentmixer_jax.policy_modifier import PolicyModifier
from envs.core import EnvSpec

Array = jax.Array


def gumbel_perturbation(b: Array) -> Array:
    """G(b) = -log(-log(sigmoid(b))): a Gumbel variate expressed through a learned 'uniform' sigmoid(b)."""
    return -jnp.log(jnp.maximum(jax.nn.softplus(-b), 1e-6))


class AgentMixer(ActorCritic):
    name = "agentmixer"
    centralised_critic = True
    joint_ratio = True

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        super().__init__(spec, config)
        n, d = spec.num_agents, spec.action_dim
        if spec.discrete or config.covariance == "diag":
            out_dim = d
        elif config.covariance == "lowrank":
            out_dim = d + d * config.cov_rank
        else:
            out_dim = d + d * n * d
        self.pm = PolicyModifier(num_agents=n, out_dim=out_dim, channels=config.pm_channels,
                                 blocks=config.pm_blocks, token_hidden=config.pm_token_hidden,
                                 channel_hidden=config.pm_channel_hidden, activation=config.activation,
                                 agent_ids=config.pm_agent_ids)

    def init(self, key: Array) -> dict:
        k_base, k_pm = jax.random.split(key)
        params = super().init(k_base)
        obs, state, mask = self.dummy_inputs()
        _, out = self.actor_step(params, self.initial_hidden(), obs, mask, jnp.bool_(True))
        sample = jnp.zeros_like(out.head)
        params["pm"] = self.pm.init(k_pm, self.pm_features(out, sample, state, mask))["params"]
        return params

    def pm_features(self, out: ActorOutput, sample: Array, state: Array, mask: Array) -> Array:
        """(N, F): policy output (probabilities or means), the individual sample, hidden feature, state."""
        if self.discrete:
            policy = jax.nn.softmax(out.head, axis=-1)
        else:
            policy = jnp.where(mask, out.head, 0.0)
        state_b = jnp.broadcast_to(state, (self.num_agents, state.shape[-1]))
        return jnp.concatenate([policy, sample, out.feature, state_b], axis=-1)

    # ----- discrete ---------------------------------------------------------------------------
    def joint_logits(self, params, out: ActorOutput, state: Array, mask: Array, noise: Array,
                     tau: Array) -> Array:
        """(N, A) joint logits given the individual Gumbel noise (N, A) (zeros: the greedy joint)."""
        if not self.config.actor_joint_gradient:  # actors learn from the joint only through the IGC term
            out = jax.tree.map(jax.lax.stop_gradient, out)
        sample = D.straight_through(out.head, noise, tau)
        b = self.pm.apply({"params": params["pm"]}, self.pm_features(out, sample, state, mask))
        if self.config.igc_exact:
            # Only lower the logits of actions other than the agent's own sample: argmax z_i = u_i, so
            # at zero noise the joint mode is exactly the individual modes (IGC by construction).
            own = jax.lax.stop_gradient(sample) > 0.5
            return jnp.where(mask, (out.head + noise - jnp.where(own, 0.0, jax.nn.softplus(b))) / tau, -1e9)
        return jnp.where(mask, (out.head + noise + gumbel_perturbation(b)) / tau, -1e9)

    def _mode_consistency(self, params, out, state, mask, tau) -> Array:
        z = self.joint_logits(params, out, state, mask, jnp.zeros_like(out.head), tau)
        return jnp.mean(jnp.argmax(z, -1) == jnp.argmax(out.head, -1))

    # ----- continuous -------------------------------------------------------------------------
    def joint_distribution(self, params, out: ActorOutput, state: Array, mask: Array, hp: HParams):
        n, d = self.num_agents, self.action_dim
        b = self.pm.apply({"params": params["pm"]}, self.pm_features(out, jnp.zeros_like(out.head), state, mask))
        std = hp.std_max * jax.nn.sigmoid(b[:, :d])
        factor = tril = None
        if self.config.covariance == "lowrank":
            factor = b[:, d:].reshape(n, d, self.config.cov_rank)
        elif self.config.covariance == "full":
            tril = b[:, d:].reshape(n, d, n * d)
        return D.joint_gaussian(out.head, mask, std, factor=factor, tril=tril)

    # ----- the policy ---------------------------------------------------------------------------
    def act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams) -> PolicyStep:
        k_ind, k_joint = jax.random.split(key)
        if self.discrete:
            noise = jax.random.gumbel(k_ind, out.head.shape)
            dist = D.categorical(self.joint_logits(params, out, state, mask, noise, hp.gumbel_tau))
            action = dist.sample(seed=k_joint).astype(jnp.int32)
            log_prob = jnp.sum(dist.log_prob(action))[None]
            metrics = {"mode_consistency": self._mode_consistency(params, out, state, mask, hp.gumbel_tau),
                       "joint_follows_individual": jnp.mean(action == jnp.argmax(out.head + noise, -1))}
            return PolicyStep(action, log_prob, noise, metrics)
        dist = self.joint_distribution(params, out, state, mask, hp)
        action = jnp.where(mask, dist.sample(seed=k_joint).reshape(out.head.shape), 0.0)
        log_prob = D.joint_log_prob(dist, out.head, mask, action)[None]
        return PolicyStep(action, log_prob, (), {})

    def evaluate(self, params, out: ActorOutput, state: Array, mask: Array, action: Array, extras, hp: HParams):
        if self.discrete:
            dist = D.categorical(self.joint_logits(params, out, state, mask, extras, hp.gumbel_tau))
            log_prob = jnp.sum(dist.log_prob(action))[None]
            entropy = jnp.sum(dist.entropy())[None]
            clone = -jnp.mean(D.categorical(out.head).log_prob(action))
            return log_prob, entropy, hp.igc_coef * clone, {"igc_clone_nll": clone}
        dist = self.joint_distribution(params, out, state, mask, hp)
        log_prob = D.joint_log_prob(dist, out.head, mask, action)[None]
        return log_prob, D.joint_entropy(dist, mask)[None], jnp.zeros(()), {}
