"""AgentMixer (Li, Zhao, Wu, Pajarinen, AAAI 2025, arXiv 2401.08728): a Policy Modifier turns the
decentralised individual policies into a correlated joint policy, trained by PPO on the joint ratio
with a centralised critic; at execution only the individual policies run, taking their modes.

The joint policy has four forms (`TrainConfig.pm_form`; `make_agentmixer` picks the class):

  gumbel          ours, below: Gumbel noise shared with the PM, which reads every agent's sample (`AgentMixer`)
  authors         the authors' code exactly: a deterministic Gumbel-shaped bias per agent, no shared noise, so
                  on a one-state game the joint is a product policy (`AgentMixerAuthors`)
  joint           a PM over the product action space: exact joint log-probabilities, IGC by distillation
                  (`AgentMixerJoint`); A ** N joint actions, so small action spaces only
  autoregressive  agent i's PM term reads the actions of agents < i, exact IGC (`AgentMixerAutoregressive`)

Continuous actions (IGC by construction). The joint mean is the concatenation of the individual
means; the PM sets the exploration scale, std = std_max * sigmoid(PM) (diagonal, as in the authors'
code), optionally with a low-rank factor or a full lower-triangular scale over all N x d dimensions,
which makes exploration truly correlated across agents. The mode of the joint is its mean, i.e. the
tuple of individual modes, whatever the PM outputs.

Discrete actions, pm_form=gumbel (ours; RESULTS.md called it "the authors' Gumbel form" before issue 12
read their code closely: the G(b) shape is theirs, the shared noise and the PM reading the samples are
not). Each agent draws its individual action by the Gumbel-max trick, u_i = argmax(l_i + g_i) with g_i ~
Gumbel(0, 1) (a straight-through Gumbel-softmax sample, so gradients
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

import flax.linen as nn
import jax
import jax.numpy as jnp

from agentmixer_jax import distributions as D
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.networks import ACTIVATIONS, ActorOutput, dense
from agentmixer_jax.policies.base import ActorCritic, PolicyStep, SACSample, joint_actions
from agentmixer_jax.policy_modifier import PolicyModifier
from envs.core import EnvSpec

Array = jax.Array


def gumbel_perturbation(b: Array) -> Array:
    """G(b) = -log(-log(sigmoid(b))): a Gumbel variate expressed through a learned 'uniform' sigmoid(b)."""
    return -jnp.log(jnp.maximum(jax.nn.softplus(-b), 1e-6))


# The authors' temperature floor (matrix_runner.py / predator_runner.py `run`, decay_id 0 and 1: 0.05).
TAU_FLOOR = 0.05


def scheduled_tau(tau: Array, decay: Array, schedule: str, update: Array, num_updates: int) -> Array:
    """The Gumbel temperature at update `update` of `num_updates`, from its start value `tau`.

    The authors' schedules (LiZhYun/BackPropagationThroughAgents bta/runner/temporal/matrix_runner.py `run`, commit
    6897692; decay_factor = `decay`): linear (decay_id 0) max(tau - tau u f / U, 0.05); cosine (decay_id 1)
    0.05 + (tau - 0.05) (1 + cos(pi u f / (U - 1))) / 2, which with f > 1 turns back up after U / f updates, as
    theirs does; step (decay_id 2) tau 0.99^floor(u / 10); constant (decay_id 3)."""
    u = update.astype(jnp.float32)
    if schedule == "linear":
        return jnp.maximum(tau - tau * u * decay / num_updates, TAU_FLOOR)
    if schedule == "cosine":
        return TAU_FLOOR + (tau - TAU_FLOOR) * (1 + jnp.cos(jnp.pi * u * decay / max(num_updates - 1, 1))) / 2
    if schedule == "step":
        return tau * 0.99 ** jnp.floor(u / 10)
    return tau


class AgentMixer(ActorCritic):
    name = "agentmixer"
    centralised_critic = True
    joint_ratio = True

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        super().__init__(spec, config)
        self.pm = PolicyModifier(num_agents=spec.num_agents, out_dim=self.pm_out_dim(), channels=config.pm_channels,
                                 blocks=config.pm_blocks, token_hidden=config.pm_token_hidden,
                                 channel_hidden=config.pm_channel_hidden, activation=config.activation,
                                 agent_ids=config.pm_agent_ids, arch=config.pm_arch,
                                 policy_dim=spec.action_dim, state_dim=spec.state_dim)

    @property
    def uses_episode_key(self) -> bool:
        return self.config.pm_dropout > 0 and self.config.pm_dropout_per == "episode"

    def pm_out_dim(self) -> int:
        """Width of the PM's per-agent output."""
        n, d = self.num_agents, self.action_dim
        if self.discrete or self.config.covariance == "diag":
            return d
        if self.config.covariance == "lowrank":
            return d + d * self.config.cov_rank
        return d + d * n * d

    def progress(self, update: Array) -> Array:
        """() float32: the fraction of training done at update `update`, 0 at the first update and 1 at the last
        (num_updates - 1); what the linear schedules interpolate by."""
        return update.astype(jnp.float32) / max(self.config.num_updates - 1, 1)

    def schedule_hparams(self, hp: HParams, update: Array) -> HParams:
        """gumbel_tau at this update under `tau_schedule` (discrete forms that use a temperature), and with
        `pm_dropout_end` the pm_dropout rate in force (`pm_dropout_now`): pm_dropout until the fraction
        `pm_dropout_hold` of training is done, then linear to pm_dropout_end at the last update (num_updates - 1)."""
        if self.config.pm_dropout_end is not None:
            hold = self.config.pm_dropout_hold
            ramp = jnp.clip((self.progress(update) - hold) / (1.0 - hold), 0.0, 1.0)
            hp = hp.replace(pm_dropout_now=self.config.pm_dropout
                            + (self.config.pm_dropout_end - self.config.pm_dropout) * ramp)
        if not self.discrete or self.config.tau_schedule == "constant":
            return hp
        return hp.replace(gumbel_tau=scheduled_tau(hp.gumbel_tau, hp.tau_decay, self.config.tau_schedule, update,
                                                   self.config.num_updates))

    def init(self, key: Array) -> dict:
        k_base, k_pm = jax.random.split(key)
        params = super().init(k_base)
        obs, state, mask = self.dummy_inputs()
        _, out = self.actor_step(params, self.initial_hidden(), obs, mask, jnp.bool_(True))
        sample = jnp.zeros_like(out.head)
        params["pm"] = self.pm.init(k_pm, self.pm_features(out, sample, state, mask))["params"]
        return params

    def policy_and_state(self, out: ActorOutput, state: Array, mask: Array, log: bool) -> tuple[Array, Array]:
        """((N, A) probabilities (log-probabilities with `log`) or (N, d) masked means, (N, state_dim) state)."""
        if self.discrete:
            policy = (jax.nn.log_softmax if log else jax.nn.softmax)(out.head, axis=-1)
        else:
            policy = jnp.where(mask, out.head, 0.0)
        return policy, jnp.broadcast_to(state, (self.num_agents, state.shape[-1]))

    def pm_features(self, out: ActorOutput, sample: Array, state: Array, mask: Array) -> Array:
        """(N, F): policy output (probabilities or means), the individual sample, hidden feature, state."""
        policy, state_b = self.policy_and_state(out, state, mask, log=False)
        return jnp.concatenate([policy, sample, out.feature, state_b], axis=-1)

    def pm_dropout_rate(self, hp: HParams) -> Array | float:
        """The pm_dropout rate in force: `pm_dropout`, or under `pm_dropout_end` the scheduled `hp.pm_dropout_now`."""
        return self.config.pm_dropout if self.config.pm_dropout_end is None else hp.pm_dropout_now

    def pm_dropout_draw(self, key: Array, hp: HParams, episode_key: Array | None = None
                        ) -> tuple[Array, Array | tuple, dict]:
        """(key left for sampling, the stored draw () or () when pm_dropout is 0, metrics): with `pm_dropout` p
        (ours; the joint and authors' discrete forms) a step is acted by the individual policies with probability
        p (`pm_dropout_rate`), and the draw is stored with the step so that it is re-scored under the policy that
        acted. With `pm_dropout_per="episode"` the draw comes from the episode's key, so a whole episode is acted
        alike."""
        if self.config.pm_dropout == 0:
            return key, (), {}
        if self.uses_episode_key:
            if episode_key is None:
                raise ValueError("pm_dropout_per='episode' needs the episode key that Acting draws (episode_key=)")
            dropped = jax.random.bernoulli(episode_key, self.pm_dropout_rate(hp))
        else:
            key, k_drop = jax.random.split(key)
            dropped = jax.random.bernoulli(k_drop, self.pm_dropout_rate(hp))
        return key, dropped, {"pm_dropped": dropped.astype(jnp.float32)}

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

    # ----- SAC (AgentMixer-SAC; learners/sac.py) --------------------------------------------------
    sac_per_agent_alpha = False  # one temperature on the joint policy's entropy

    def sac_sample(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams
                   ) -> SACSample:
        """Continuous: the joint Gaussian (mean = the individual means, covariance from the PM: diag, lowrank or
        full), reparameterised and tanh-squashed; its joint log-density. Discrete forms: see AgentMixerJoint."""
        if self.discrete:
            raise NotImplementedError(f"pm_form={self.config.pm_form!r} has no reparameterised discrete joint sample")
        dist = self.joint_distribution(params, out, state, mask, hp)
        action = jnp.where(mask, dist.sample(seed=key).reshape(out.head.shape), 0.0)
        q_action, log_det = D.tanh_squash(action, mask)
        log_prob = D.joint_log_prob(dist, out.head, mask, action) - jnp.sum(log_det)
        return SACSample(action, q_action, log_prob[None], jnp.zeros(()), {})


class AgentMixerAuthors(AgentMixer):
    """The authors' AgentMixer, exactly as their code runs it (LiZhYun/BackPropagationThroughAgents, HEAD 13607d0):

    PM (bta/algorithms/utils/action_attention.py, last changed 7f9af49, `Action_Attention.forward`): reads each
    agent's individual log-probabilities and actor feature, both detached (base_runner.py `joint_train`,
    `logits_all.detach()`, `obs_feats_all.detach()`), the state's features and a one-hot id; it never sees the
    other agents' sampled actions. Output b (N, A) or (N, d); u = y * sigmoid(gain * b).

    Discrete (matrix_runner.py `collect`, 6897692): G = -log(-log(u)) is deterministic, and every agent samples
    independently from softmax((log pi_i + G_i) / tau). No noise is shared, so given the state the joint is a
    product of per-agent policies: on a one-state game it cannot correlate the agents. The joint log-prob is the
    sum over agents; the entropy the sum of the per-agent entropies; the actors get the joint PPO gradient through
    log pi_i. No IGC / BC term (the call is commented out there); `igc_coef` > 0 adds our clone term anyway.
    Continuous: Normal(individual means, u), diagonal.

    The PM is theirs with `pm_arch="authors"` (the `agentmixer_authors` preset, at their widths: policy_modifier.py
    says what it reproduces and what not, namely the GRU on its state branch); `pm_arch="mixer"` is our MLP-Mixer on
    the concatenated inputs. Widths, blocks, y, gain and the temperature schedule are settings.
    `pm_dropout` > 0 (ours, not the authors') acts a fraction of the steps by the individual policies alone.
    """

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        super().__init__(spec, config)
        if config.pm_dropout > 0 and not self.discrete:
            raise ValueError(f"pm_dropout={config.pm_dropout} with pm_form='authors' needs discrete actions (a "
                             "dropped step acts by the individual policies, which have no exploration scale of "
                             "their own in the continuous form): set pm_dropout to 0")

    def pm_features(self, out: ActorOutput, sample: Array, state: Array, mask: Array) -> Array:
        """(N, F): the detached log-probabilities (or means), the detached actor feature, the state."""
        policy, state_b = self.policy_and_state(out, state, mask, log=True)
        return jnp.concatenate([jax.lax.stop_gradient(policy), jax.lax.stop_gradient(out.feature), state_b], -1)

    def log_u(self, params, out: ActorOutput, state: Array, mask: Array, hp: HParams) -> Array:
        """log u = log y + log sigmoid(gain * b), (N, A) or (N, d)."""
        b = self.pm.apply({"params": params["pm"]}, self.pm_features(out, None, state, mask))
        return jnp.log(hp.pm_y) + jax.nn.log_sigmoid(hp.pm_gain * b)

    def mixed_logits(self, params, out: ActorOutput, state: Array, mask: Array, hp: HParams) -> Array:
        """(N, A): (log pi_i + G_i) / tau with G = -log(-log u), masked."""
        g = -jnp.log(-self.log_u(params, out, state, mask, hp))
        return jnp.where(mask, (jax.nn.log_softmax(out.head, -1) + g) / hp.gumbel_tau, -1e9)

    def joint_distribution(self, params, out: ActorOutput, state: Array, mask: Array, hp: HParams):
        return D.joint_gaussian(out.head, mask, jnp.exp(self.log_u(params, out, state, mask, hp)))

    def behaviour_logits(self, params, out: ActorOutput, state: Array, mask: Array, hp: HParams,
                         dropped: Array | tuple) -> Array:
        """(N, A) logits of the policy that acts a step: the mixed one, or with `pm_dropout` (ours, not the
        authors') the individual policies' own where the step's stored draw `dropped` () says so."""
        mixed = self.mixed_logits(params, out, state, mask, hp)
        if self.config.pm_dropout == 0:
            return mixed
        return jnp.where(dropped, jnp.where(mask, out.head, -1e9), mixed)

    def act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams,
            episode_key: Array | None = None) -> PolicyStep:
        if not self.discrete:
            return super().act(params, out, state, mask, key, hp)
        key, extras, metrics = self.pm_dropout_draw(key, hp, episode_key)
        dist = D.categorical(self.behaviour_logits(params, out, state, mask, hp, extras))
        action = dist.sample(seed=key).astype(jnp.int32)
        metrics |= {"joint_follows_individual": jnp.mean(action == jnp.argmax(out.head, -1)),
                    "gumbel_tau": hp.gumbel_tau}
        return PolicyStep(action, jnp.sum(dist.log_prob(action))[None], extras, metrics)

    def evaluate(self, params, out: ActorOutput, state: Array, mask: Array, action: Array, extras, hp: HParams):
        if not self.discrete:
            return super().evaluate(params, out, state, mask, action, extras, hp)
        dist = D.categorical(self.behaviour_logits(params, out, state, mask, hp, extras))
        clone = -jnp.mean(D.categorical(out.head).log_prob(action))
        return (jnp.sum(dist.log_prob(action))[None], jnp.sum(dist.entropy())[None], hp.igc_coef * clone,
                {"igc_clone_nll": clone})


class DistilledJointForm(AgentMixer):
    """What the joint and autoregressive forms share: the authors' detached PM inputs, IGC by distilling the
    individual policies onto a target from the joint, and the joint's own greedy play evaluated as `joint_`."""

    pm_features = AgentMixerAuthors.pm_features

    def joint_greedy(self, params, out: ActorOutput, state: Array, mask: Array) -> Array:
        """(N,) the joint policy's own greedy joint action (centralised)."""
        raise NotImplementedError

    def schedule_hparams(self, hp: HParams, update: Array) -> HParams:
        """The temperature schedule, and distill_coef under `distill_schedule='linear'`: from distill_coef_start at
        update 0 to distill_coef at the last update (num_updates - 1)."""
        hp = super().schedule_hparams(hp, update)
        if self.config.distill_schedule == "constant":
            return hp
        return hp.replace(distill_coef=hp.distill_coef_start
                          + (hp.distill_coef - hp.distill_coef_start) * self.progress(update))

    def distill_loss(self, target: Array, out: ActorOutput, hp: HParams) -> tuple[Array, dict]:
        """(distill_coef x KL(target || pi_i) averaged over agents, metrics); target (N, A), no gradient."""
        logp = jax.nn.log_softmax(out.head, -1)
        kl = jnp.sum(target * (jnp.log(jnp.maximum(target, 1e-30)) - logp)) / self.num_agents
        metrics = {"igc_kl": kl}
        if self.config.distill_schedule != "constant":
            metrics["distill_coef"] = hp.distill_coef
        return hp.distill_coef * kl, metrics

    def eval_policies(self) -> dict:
        return {**super().eval_policies(), "joint_": self.joint_greedy}

    @property
    def joint_ratio(self) -> bool:
        """PPO clips one joint ratio per step (K = 1) or, with pm_ratio='factors', each agent's chain-rule factor
        p(a_i | a_<i) (K = N, agents in index order; MAT clips its autoregressive factors alike)."""
        return self.config.pm_ratio == "joint"

    def ratio_log_prob(self, factors: Array) -> Array:
        """(N,) chain-rule factors log p(a_i | a_<i) -> the (K,) log-probabilities whose ratios PPO clips."""
        return jnp.sum(factors)[None] if self.joint_ratio else factors

    def ratio_entropy(self, entropy: Array) -> Array:
        """The joint's entropy () -> (K,): with factors it is repeated, so the bonus (the mean over K) stays the
        joint's."""
        return entropy[None] if self.joint_ratio else jnp.full((self.num_agents,), entropy)


class AgentMixerJoint(DistilledJointForm):
    """A Policy Modifier over joint actions (ours; issue 12's "joint" form). With J = A ** N joint actions,

        log p(a | s) = log softmax_J( sum_i log pi_i(a_i | o_i) + sum_k PM(x)_k[a] ),    a = (a_1, ..., a_N),

    where PM(x) (N, J) is the MLP-Mixer over the agents' detached log-probabilities, actor features and the state,
    its output layer zero at initialisation: the joint starts as the product of the individual policies, and the
    PM then adds any interaction between the agents' actions. Unavailable actions are masked per agent (a joint
    action is available when each agent's part is). PPO trains the joint ratio (`pm_ratio='factors'`: each agent's
    chain-rule factor p(a_i | a_<i), clipped separately); the individual policies also get
    its gradient through log pi_i (unless `actor_joint_gradient=False`).

    IGC by distillation: with m the joint's mode, each individual policy is pulled toward the joint's conditional
    at the mode, KL(p(a_i | m_-i) || pi_i) with weight `distill_coef`, so the tuple of individual modes becomes the
    joint's mode. `joint_distill="marginal"` (ours) pulls it toward the joint's marginal p(a_i) instead: the
    product of the marginals is the product policy closest to the joint in KL(joint || product).
    With `pm_dropout` p > 0 (ours) each step (`pm_dropout_per="episode"`: each whole episode) is
    acted with probability p by the product of the individual policies instead (the PM term off; the draw is
    stored and the step re-scored under the same policy), so the PPO gradient also reaches the individual policies
    from their own decentralised play.
    Tie rule: joint actions within `tie_tol` nats of the best count as tied, and the tie goes to the one the
    individual policies already prefer (the largest sum of log pi_i), so tied optima become a commitment instead
    of flipping. Greedy evaluation reports the individual modes and (`joint_`) the joint's mode.
    """

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        n, a = spec.num_agents, spec.action_dim
        self.num_joint = a ** n
        # (J, N): the joint action of each index, agent 0 most significant; index = sum_i a_i * stride_i
        self.combos = joint_actions(n, a)
        self.strides = jnp.asarray([a ** (n - 1 - i) for i in range(n)], jnp.int32)
        super().__init__(spec, config)

    def pm_out_dim(self) -> int:
        return self.num_joint

    def joint_logits(self, params, out: ActorOutput, state: Array, mask: Array) -> tuple[Array, Array]:
        """(z (J,) masked joint logits, base (J,) sum of the individual log-probabilities)."""
        if not self.config.actor_joint_gradient:
            out = jax.tree.map(jax.lax.stop_gradient, out)
        agents = jnp.arange(self.num_agents)
        logp = jax.nn.log_softmax(out.head, -1)
        base = jnp.sum(logp[agents, self.combos], -1)
        b = self.pm.apply({"params": params["pm"]}, self.pm_features(out, None, state, mask))
        available = jnp.all(mask[agents, self.combos], -1)
        return jnp.where(available, base + jnp.sum(b, 0), -1e9), jnp.where(available, base, -1e9)

    def joint_mode(self, z: Array, base: Array, tie_tol: Array) -> Array:
        """() index of the joint mode; among joint actions within tie_tol of the best, the individuals' favourite."""
        tied = z >= jnp.max(z) - tie_tol
        return jnp.argmax(jnp.where(tied, base, -jnp.inf))

    def chain_factors(self, logp: Array, action: Array) -> Array:
        """(N,) log p(a_i | a_<i) of the joint action `action` (N,) under the joint log-probabilities `logp` (J,),
        agents in index order: differences of the prefix marginals log p(a_<=i); they sum to logp[a]."""
        prefix = jnp.cumprod(self.combos == action, axis=1).astype(bool)  # (J, N): agrees with a on agents <= i
        marginal = jax.nn.logsumexp(jnp.where(prefix, logp[:, None], -jnp.inf), axis=0)  # (N,) log p(a_<=i)
        return marginal - jnp.concatenate([jnp.zeros((1,), marginal.dtype), marginal[:-1]])

    def joint_log_prob(self, logp: Array, action: Array) -> Array:
        """(K,) what PPO clips for the joint action `action` (N,): its joint log-probability, or its factors."""
        if self.joint_ratio:
            return logp[jnp.sum(action * self.strides)][None]
        return self.chain_factors(logp, action)

    def conditionals(self, z: Array, mode: Array) -> Array:
        """(N, A): agent i's joint logits with the others at the mode, z[m_-i, a_i = a]."""
        m = self.combos[mode]
        idx = mode - m[:, None] * self.strides[:, None] + jnp.arange(self.action_dim)[None] * self.strides[:, None]
        return z[idx]

    def marginals(self, z: Array) -> Array:
        """(N, A): each agent's marginal log-probability log p(a_i = a) under the joint logits z (J,)."""
        owns = self.combos[:, :, None] == jnp.arange(self.action_dim)  # (J, N, A): joint action j has a_i = a
        return jax.nn.logsumexp(jnp.where(owns, jax.nn.log_softmax(z)[:, None, None], -jnp.inf), axis=0)

    def distill_target(self, z: Array, mode: Array) -> Array:
        """(N, A) probabilities, no gradient: the conditionals at the mode `mode` (index), or the marginals."""
        logits = self.marginals(z) if self.config.joint_distill == "marginal" else self.conditionals(z, mode)
        return jax.nn.softmax(jax.lax.stop_gradient(logits), -1)

    def act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams,
            episode_key: Array | None = None) -> PolicyStep:
        z, base = self.joint_logits(params, out, state, mask)
        mode = self.combos[self.joint_mode(z, base, hp.tie_tol)]
        metrics = {"mode_consistency": jnp.all(mode == jnp.argmax(out.head, -1)).astype(jnp.float32)}
        key, extras, drop_metrics = self.pm_dropout_draw(key, hp, episode_key)
        if self.config.pm_dropout > 0:  # this step acts by the product of the individual policies
            z = jnp.where(extras, base, z)
        metrics |= drop_metrics
        action = self.combos[jax.random.categorical(key, z)]
        return PolicyStep(action, self.joint_log_prob(jax.nn.log_softmax(z), action), extras, metrics)

    def evaluate(self, params, out: ActorOutput, state: Array, mask: Array, action: Array, extras, hp: HParams):
        z, base = self.joint_logits(params, out, state, mask)
        behaviour = z if self.config.pm_dropout == 0 else jnp.where(extras, base, z)  # the policy that acted
        logp_joint = jax.nn.log_softmax(behaviour)
        log_prob = self.joint_log_prob(logp_joint, action)
        entropy = self.ratio_entropy(-jnp.sum(jnp.exp(logp_joint) * logp_joint))
        target = self.distill_target(z, self.joint_mode(z, base, hp.tie_tol))
        return (log_prob, entropy, *self.distill_loss(target, out, hp))

    def joint_greedy(self, params, out: ActorOutput, state: Array, mask: Array) -> Array:
        z, base = self.joint_logits(params, out, state, mask)
        return self.combos[self.joint_mode(z, base, 0.0)]

    def sac_sample(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams
                   ) -> SACSample:
        """A straight-through Gumbel-softmax sample over the J joint actions, as per-agent one-hots (N, A); the
        joint's exact negative entropy; the IGC distillation onto the joint's conditionals at its mode."""
        z, base = self.joint_logits(params, out, state, mask)
        j, one_hot = D.gumbel_one_hot(z, key, hp.gumbel_tau)
        logp = jax.nn.log_softmax(z)
        q_action = jnp.einsum("j,jna->na", one_hot, jax.nn.one_hot(self.combos, self.action_dim))
        return SACSample(self.combos[j], q_action, jnp.sum(jnp.exp(logp) * logp)[None],
                         *self.sac_distill(z, base, out, hp))

    def sac_joint(self, params, out: ActorOutput, state: Array, mask: Array, combos: Array, hp: HParams
                  ) -> SACSample:
        """The joint's log-probabilities (J,) (combos: this form's own joint actions), its minus exact entropy,
        the IGC distillation."""
        z, base = self.joint_logits(params, out, state, mask)
        logp = jax.nn.log_softmax(z)
        return SACSample(jnp.zeros(()), logp, jnp.sum(jnp.exp(logp) * logp)[None], *self.sac_distill(z, base, out, hp))

    def sac_distill(self, z: Array, base: Array, out: ActorOutput, hp: HParams) -> tuple[Array, dict]:
        """IGC for SAC as for PPO: distillation onto the joint's conditionals at its mode (or its marginals), and
        whether the mode is the individual modes."""
        mode = self.joint_mode(z, base, hp.tie_tol)
        target = self.distill_target(z, mode)
        aux, metrics = self.distill_loss(target, out, hp)
        metrics["mode_consistency"] = jnp.all(self.combos[mode] == jnp.argmax(out.head, -1)).astype(jnp.float32)
        return aux, metrics


class ARHead(nn.Module):
    """f_i: agent i's PM context x_i (C,), the one-hot actions of the agents before it (N * A,, zeros for the
    others) and its one-hot id (N,) -> a logit term (A,), zero at initialisation."""

    action_dim: int
    hidden: int
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: Array, prev: Array, agent_id: Array) -> Array:
        h = ACTIVATIONS[self.activation](dense(self.hidden)(jnp.concatenate([x, prev, agent_id], -1)))
        return nn.Dense(self.action_dim, kernel_init=nn.initializers.zeros, name="out")(h)


class AgentMixerAutoregressive(DistilledJointForm):
    """A Policy Modifier autoregressive over the agents (ours; issue 12's scalable form): agent i's joint logits

        z_i(a_<i) = l_i + f_i(x_i, a_<i)                         (igc_exact=False)
        z_i(a_<i) = l_i + f_i(x_i, a_<i) - f_i(x_i, r_<i)         (igc_exact=True, r = the individual modes)
        z_i(a_<i) = l_i + f_i(x_i, a_<i) - f_i(x_i, pi_<i)        (igc_exact, ar_reference=probs: the individual
                                                                   policies' probabilities in place of one-hots)

    with x = the MLP-Mixer PM over the agents' detached log-probabilities, actor features and the state, and f the
    `ARHead` (zero at initialisation: the joint starts as the product of the individual policies). Cost is linear
    in N x A (agents decode one after another in a `lax.scan`), so it fits tasks whose product action space does
    not. log p(a) = sum_i log softmax(z_i(a_<i))[a_i], re-scored exactly by teacher forcing; the entropy is the sum
    of the conditionals' entropies along the sample (as MAT's).

    IGC. With igc_exact the joint's sequential greedy decode is the tuple of individual modes by construction (at
    a_<i = r_<i the PM term vanishes); but when the first agents' modes flip between tied optima the later agents'
    conditionals jump with them. `ar_reference="probs"` smooths the reference (no jump when a mode flips; IGC then
    holds as the individual policies become deterministic, and is measured by `mode_consistency`). By default
    (igc_exact=False) the individual policies are instead distilled (weight `distill_coef`)
    onto the joint's conditionals at its greedy decode m, KL(softmax z_i(m_<i) || pi_i), and the decode breaks ties
    (conditional logits within `tie_tol` of the best) toward the agent's own individual policy, so a tie becomes a
    commitment. `ar_distill="hard"` distils onto the decode itself (a one-hot target, cross-entropy): the first
    agent, whose conditional is its own policy, then commits to its mode instead of staying split between tied
    optima. Greedy evaluation reports the individual modes and (`joint_`) the joint's decode.
    """

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        super().__init__(spec, config)
        self.head = ARHead(spec.action_dim, config.pm_channel_hidden, config.activation)
        n = spec.num_agents
        self.before = jnp.tril(jnp.ones((n, n), jnp.float32), k=-1)  # before[i, j] = j < i
        self.ids = jnp.eye(n, dtype=jnp.float32)

    def pm_out_dim(self) -> int:
        return self.config.pm_channels

    def init(self, key: Array) -> dict:
        k_base, k_head = jax.random.split(key)
        params = super().init(k_base)
        n, a, c = self.num_agents, self.action_dim, self.config.pm_channels
        params["pm_head"] = self.head.init(k_head, jnp.zeros((c,)), jnp.zeros((n * a,)), jnp.zeros((n,)))["params"]
        return params

    @staticmethod
    def param_group(top_level_key: str) -> str:
        return "pm" if top_level_key == "pm_head" else AgentMixer.param_group(top_level_key)

    def context(self, params, out: ActorOutput, state: Array, mask: Array) -> Array:
        """(N, C): the PM's per-agent context."""
        return self.pm.apply({"params": params["pm"]}, self.pm_features(out, None, state, mask))

    def pm_term(self, params, x: Array, actions: Array, i: Array) -> Array:
        """(A,): f_i(x_i, a_<i), agent i's PM term given the earlier agents' actions: `actions` (N,) indices, or
        (N, A) probability vectors in place of the one-hot actions (the soft reference); entries j >= i unused."""
        onehot = jax.nn.one_hot(actions, self.action_dim) if actions.ndim == 1 else actions
        prev = (self.before[i][:, None] * onehot).reshape(-1)
        return self.head.apply({"params": params["pm_head"]}, x[i], prev, self.ids[i])

    def pm_terms(self, params, x: Array, actions: Array) -> Array:
        """(N, A): f_i(x_i, a_<i) for every agent, teacher-forced on `actions`."""
        return jax.vmap(lambda i: self.pm_term(params, x, actions, i))(jnp.arange(self.num_agents))

    def base_logits(self, params, out: ActorOutput, x: Array) -> Array:
        """(N, A): the part of z_i that does not depend on a_<i: log pi_i, minus f_i(x_i, r_<i) with igc_exact."""
        if not self.config.actor_joint_gradient:
            out = jax.tree.map(jax.lax.stop_gradient, out)
        base = jax.nn.log_softmax(out.head, -1)
        if self.config.igc_exact:
            ref = jnp.argmax(out.head, -1) if self.config.ar_reference == "mode" else jax.nn.softmax(out.head, -1)
            base = base - self.pm_terms(params, x, jax.lax.stop_gradient(ref))
        return base

    def logits(self, params, out: ActorOutput, x: Array, mask: Array, actions: Array) -> Array:
        """(N, A) masked conditionals z_i(a_<i) for the joint action `actions` (N,), teacher-forced."""
        z = self.base_logits(params, out, x) + self.pm_terms(params, x, actions)
        return jnp.where(mask, z, -1e9)

    def decode(self, params, out: ActorOutput, x: Array, mask: Array, pick) -> Array:
        """(N,) joint action decoded agent by agent: a_i = pick(i, z_i(a_<i)); one PM-head call per agent."""
        base = self.base_logits(params, out, x)

        def step(actions, i):
            z = jnp.where(mask[i], base[i] + self.pm_term(params, x, actions, i), -1e9)
            return actions.at[i].set(pick(i, z)), None

        actions0 = jnp.zeros((self.num_agents,), jnp.int32)
        return jax.lax.scan(step, actions0, jnp.arange(self.num_agents))[0]

    def greedy_decode(self, params, out: ActorOutput, x: Array, mask: Array, tie_tol: Array) -> Array:
        """The joint's greedy decode; conditional logits within tie_tol of the best are tied, and the tie goes to
        the action the agent's individual policy prefers."""
        def pick(i, z):
            return jnp.argmax(jnp.where(z >= jnp.max(z) - tie_tol, out.head[i], -jnp.inf)).astype(jnp.int32)

        return self.decode(params, out, x, mask, pick)

    def act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams) -> PolicyStep:
        x = self.context(params, out, state, mask)
        keys = jax.random.split(key, self.num_agents)
        action = self.decode(params, out, x, mask, lambda i, z: jax.random.categorical(keys[i], z).astype(jnp.int32))
        factors = jnp.take_along_axis(jax.nn.log_softmax(self.logits(params, out, x, mask, action), -1),
                                      action[:, None], -1)[:, 0]
        return PolicyStep(action, self.ratio_log_prob(factors), (), {})

    def evaluate(self, params, out: ActorOutput, state: Array, mask: Array, action: Array, extras, hp: HParams):
        x = self.context(params, out, state, mask)
        logp = jax.nn.log_softmax(self.logits(params, out, x, mask, action), -1)
        log_prob = self.ratio_log_prob(jnp.take_along_axis(logp, action[:, None], -1)[:, 0])
        entropy = self.ratio_entropy(-jnp.sum(jnp.exp(logp) * logp))
        mode = jax.lax.stop_gradient(self.greedy_decode(params, out, x, mask, hp.tie_tol))
        if self.config.ar_distill == "hard":  # the decode itself: each agent commits to its part of it
            target = jax.nn.one_hot(mode, self.action_dim)
        else:
            target = jax.nn.softmax(jax.lax.stop_gradient(self.logits(params, out, x, mask, mode)), -1)
        loss, metrics = self.distill_loss(target, out, hp)
        # IGC, measured on the minibatch (the decode is computed here anyway; acting does not pay for a second one)
        metrics["mode_consistency"] = jnp.all(mode == jnp.argmax(out.head, -1)).astype(jnp.float32)
        return log_prob, entropy, loss, metrics

    def joint_greedy(self, params, out: ActorOutput, state: Array, mask: Array) -> Array:
        return self.greedy_decode(params, out, self.context(params, out, state, mask), mask, 0.0)


FORMS = {"gumbel": AgentMixer, "authors": AgentMixerAuthors, "joint": AgentMixerJoint,
         "autoregressive": AgentMixerAutoregressive}


def make_agentmixer(spec: EnvSpec, config: TrainConfig) -> AgentMixer:
    """The AgentMixer policy of `config.pm_form`."""
    return FORMS[config.pm_form](spec, config)
