"""SAC: off-policy soft actor-critic with a replay buffer inside the jit (MASAC, AgentMixer-SAC).

One `update` = `num_steps` steps of `num_envs` environments by the training policy (uniformly random actions for
the first `warmup_steps` env steps of the seed), their `num_steps * num_envs` transitions added to a flashbax item
buffer (`buffer_size` per seed, the oldest overwritten), then `utd_ratio * num_steps * num_envs` gradient steps on
batches of `sac_batch_size` transitions sampled uniformly from what the buffer holds. Learning starts once the
buffer holds a batch and the warm-up is over (`lax.cond`, so a resumed run without its buffer refills it first).

Each gradient step (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications"; multi-agent with
centralised critics as HARL's HASAC, PKU-MARL/HARL @ a6309b8, without its sequential actor updates):
- critics: twin Q(s, a) on the global state and the joint action (one-hots or tanh-squashed vectors), regressed
  on  y = r + gamma (1 - terminated) (min_k Q'_k(s', a') - sum_g alpha_g log pi_g(a' | s')),  a' ~ pi(s') now, with
  the target critics Q'. Truncated transitions bootstrap from the final observation; terminated ones do not;
- actor: minimise  sum_g alpha_g log pi_g(a | s) - min_k Q_k(s, a)  through the reparameterised sample a, plus
  the policy's own term (AgentMixer's IGC distillation);
- temperature: log alpha_g descends  -log alpha_g (log pi_g + target_g)  (no change with alpha_lr = 0);
- targets: Q' <- (1 - polyak) Q' + polyak Q.
g runs over the policy's entropy groups: the agents (MASAC) or the joint policy (AgentMixer-SAC). The reward is
the team reward, the mean of the agents' rewards. Every float setting is a traced `HParams` leaf (learning rates
through `optax.inject_hyperparams`), so the learner vmaps over seeds and hyperparameters like PPO.

Why flashbax: it is the field's JAX replay buffer (InstaDeep; Mava's off-policy systems use it), its state is a
pytree that vmaps over seeds, and its uniform item sampler draws only written entries.
"""

from __future__ import annotations

from typing import Any

import flashbax
import jax
import jax.numpy as jnp
import optax
from flax import struct

from agentmixer_jax.acting import Acting, ActingCarry
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.learners.ppo import mean_over_episodes
from agentmixer_jax.networks import Critic
from agentmixer_jax.policies.base import ActorCritic, PolicyStep, SACSample, joint_actions

Array = jax.Array


@struct.dataclass
class Experience:
    """One transition of one environment: what the replay buffer holds."""

    obs: Array  # (N, obs_dim) raw
    state: Array  # (state_dim,) raw
    mask: Array  # (N, A) or (N, d)
    action: Array  # (N,) int32 or (N, d) the Gaussian sample before the tanh
    reward: Array  # () team reward
    next_obs: Array  # (N, obs_dim) raw: the step's own next observation, the final one where an episode ended
    next_state: Array  # (state_dim,)
    next_mask: Array  # (N, A) or (N, d)
    terminated: Array  # () bool: no bootstrap (truncation bootstraps)


@struct.dataclass
class SACState:
    """Everything SAC needs to continue: policy, critics, temperatures, optimisers, the buffer, environments."""

    params: Any  # the policy's parameters (actors, Policy Modifier, input statistics): what evaluation plays
    q: Any  # twin Q critics, leaves stacked (2, ...)
    q_target: Any  # their Polyak-averaged targets
    log_alpha: Array  # (K,) entropy temperatures, log
    opt_state: Any  # (actor, critic, alpha) optax states
    buffer: Any  # flashbax buffer state: experience (1, buffer_size, ...), current_index, is_full
    acting: ActingCarry  # (E, ...) env state mid-episode
    key: Array  # (2,) uint32
    env_steps: Array  # () int32: environment steps of this seed so far (every environment counts)


def polyak(target, online, rate: Array):
    """target + rate (online - target), leaf by leaf (rate 1 copies the online parameters)."""
    return jax.tree.map(lambda t, o: t + rate * (o - t), target, online)


def soft_target(reward: Array, terminated: Array, next_value: Array, next_log_prob: Array, alpha: Array,
                gamma: Array) -> Array:
    """The soft Bellman target y = r + gamma (1 - terminated) (V' - sum_g alpha_g log pi_g(a' | s')).

    reward, terminated: (B,); next_value: (B,) the smaller target critic at (s', a') (or its expectation over a');
    next_log_prob: (B, K); alpha: (K,)."""
    soft_value = next_value - jnp.sum(alpha * next_log_prob, -1)
    return reward + gamma * (1.0 - terminated.astype(jnp.float32)) * soft_value


def alpha_loss(log_alpha: Array, log_prob: Array, target_entropy: Array) -> Array:
    """-mean(log alpha_g (log pi_g + target_g)) with no gradient into the policy: alpha rises when the entropy
    (-log pi) is below its target and falls when above. log_alpha, target_entropy: (K,); log_prob: (B, K)."""
    return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + target_entropy))


def buffer_count(buffer) -> Array:
    """() int32: transitions the buffer holds."""
    size = buffer.experience.reward.shape[1]
    return jnp.where(buffer.is_full, size, buffer.current_index).astype(jnp.int32)


class SAC:
    """The SAC learner of one policy: `init(...) -> SACState`, `update(state, hp) -> (state, metrics)`."""

    off_policy = True
    squashes_actions = True  # continuous actions reach the environment as tanh(sample), scaled to the box

    def __init__(self, policy: ActorCritic, acting: Acting, config: TrainConfig):
        self.policy = policy
        self.acting = acting
        self.config = config
        self.q_net = Critic(config.critic_hidden_sizes, config.activation, weight_init=config.weight_init,
                            feature_norm=config.feature_norm, hidden_norm=config.hidden_norm)
        self.buffer = flashbax.make_item_buffer(max_length=config.buffer_size, min_length=1,
                                                sample_batch_size=config.sac_batch_size, add_sequences=True)
        self.grad_steps = round(config.utd_ratio * config.batch_size)
        # discrete, exact: every joint action's critic input (J, N, A), the expectations taken over all of them
        self.exact = policy.discrete and config.sac_discrete == "exact"
        if self.exact:
            self.combos = joint_actions(policy.num_agents, policy.action_dim)
            self.combo_q_actions = jax.nn.one_hot(self.combos, policy.action_dim)

    # ----- networks ---------------------------------------------------------------------------------
    def q_values(self, q, params, state: Array, q_action: Array) -> Array:
        """(2,) twin Q of one joint step: raw state (state_dim,), critic action (N, A) or (N, d)."""
        x = jnp.concatenate([self.policy.state_inputs(params, state), q_action.reshape(-1)])
        return jax.vmap(lambda p: self.q_net.apply({"params": p}, x))(q)

    def sample(self, params, obs: Array, state: Array, mask: Array, key: Array, hp: HParams) -> SACSample:
        """The training policy over a batch of joint steps (B, ...) (feed-forward actors): a reparameterised
        sample, or with `exact` the log-probabilities of every joint action as `q_action` (B, J)."""
        policy = self.policy
        obs_n, state_n = policy.inputs(params, obs, state)

        def one(o, s, m, k):
            _, out = policy.actor_step(params, policy.initial_hidden(), o, m, jnp.bool_(True))
            if self.exact:
                return policy.sac_joint(params, out, s, m, self.combos, hp)
            return policy.sac_sample(params, out, s, m, k, hp)

        return jax.vmap(one)(obs_n, state_n, mask, jax.random.split(key, obs.shape[0]))

    def soft_q(self, q, params, state: Array, pi: SACSample) -> Array:
        """(B,) min over the twin critics at the policy's action, or its expectation over the joint actions."""
        if not self.exact:
            return jnp.min(jax.vmap(self.q_values, in_axes=(None, None, 0, 0), out_axes=1)(q, params, state,
                                                                                          pi.q_action), 0)
        q_all = jax.vmap(jax.vmap(self.q_values, in_axes=(None, None, None, 0)), in_axes=(None, None, 0, None))(
            q, params, state, self.combo_q_actions)  # (B, J, 2)
        return jnp.sum(jnp.exp(pi.q_action) * jnp.min(q_all, -1), -1)

    # ----- optimisers -------------------------------------------------------------------------------
    def _adam(self, lr: Array, hp: HParams) -> optax.GradientTransformation:
        return optax.chain(optax.clip_by_global_norm(hp.max_grad_norm),
                           optax.inject_hyperparams(optax.adam)(learning_rate=lr))

    def optimizers(self, params, hp: HParams):
        """(actor: per parameter group, critic, alpha) optimisers; learning rates traced from `hp`."""
        lrs = {"actor": hp.lr, "pm": hp.pm_lr}
        labels = {k: self.policy.param_group(k) for k in params}
        actor = optax.multi_transform(
            {g: optax.set_to_zero() if g == "frozen" else self._adam(lrs[g], hp) for g in set(labels.values())},
            labels)
        alpha = optax.inject_hyperparams(optax.adam)(learning_rate=hp.alpha_lr)
        return actor, self._adam(hp.critic_lr, hp), alpha

    def init(self, k_params: Array, k_env: Array, k_run: Array, hp: HParams) -> SACState:
        policy = self.policy
        k_actor, k_q = jax.random.split(k_params)
        params = {k: v for k, v in policy.init(k_actor).items() if k != "critic"}  # the V critic is PPO's
        acting = self.acting.reset(k_env, self.config.num_envs)
        params = policy.update_input_norm(params, acting.timestep.obs, acting.timestep.state)
        obs, state, mask = policy.dummy_inputs()
        q_action = policy.sac_q_action(jnp.zeros(policy.spec.action_shape(), jnp.int32 if policy.discrete
                                                 else jnp.float32), mask)
        x = jnp.concatenate([state, q_action.reshape(-1)])
        q = jax.vmap(lambda k: self.q_net.init(k, x)["params"])(jax.random.split(k_q))
        k = policy.sac_group(jnp.zeros((policy.num_agents,))).shape[0]
        log_alpha = jnp.full((k,), jnp.log(hp.alpha_init))
        actor_tx, critic_tx, alpha_tx = self.optimizers(params, hp)
        item = Experience(obs=obs, state=state, mask=mask,
                          action=jnp.zeros(policy.spec.action_shape(), jnp.int32 if policy.discrete else jnp.float32),
                          reward=jnp.zeros(()), next_obs=obs, next_state=state, next_mask=mask,
                          terminated=jnp.zeros((), bool))
        return SACState(params=params, q=q, q_target=q, log_alpha=log_alpha,
                        opt_state=(actor_tx.init(params), critic_tx.init(q), alpha_tx.init(log_alpha)),
                        buffer=self.buffer.init(item), acting=acting, key=k_run, env_steps=jnp.int32(0))

    # ----- collecting -------------------------------------------------------------------------------
    def random_action(self, mask: Array, key: Array) -> Array:
        """A uniformly random joint action: available actions (discrete), tanh(action) uniform in the box."""
        if self.policy.discrete:
            return jax.random.categorical(key, jnp.where(mask, 0.0, -1e9)).astype(jnp.int32)
        u = jax.random.uniform(key, mask.shape, minval=-1.0 + 1e-6, maxval=1.0 - 1e-6)
        return jnp.where(mask, jnp.arctanh(u), 0.0)

    def collect(self, state: SACState, hp: HParams):
        """num_steps steps of every environment into the buffer: (state, episode metrics of the rollout)."""
        policy = self.policy
        warm = state.env_steps < self.config.warmup_steps

        def behaviour(params, out, obs_state, mask, key, episode_key):
            k_pol, k_rand = jax.random.split(key)
            sample = policy.sac_sample(params, out, obs_state, mask, k_pol, hp)
            action = jnp.where(warm, self.random_action(mask, k_rand), sample.action)
            return PolicyStep(action, jnp.zeros((0,)), (), {})

        def step(carry, _):
            acting, key = carry
            key, k_act, k_env = jax.random.split(key, 3)
            acting, rec = self.acting.step(state.params, acting, k_act, k_env, behaviour)
            nxt = rec.next
            exp = Experience(obs=rec.obs, state=rec.state, mask=rec.mask, action=rec.policy.action,
                             reward=jnp.mean(nxt.reward, -1), next_obs=nxt.info["final_obs"],
                             next_state=nxt.info["final_state"], next_mask=nxt.info["final_action_mask"],
                             terminated=nxt.terminated)
            return (acting, key), (exp, nxt.info["episode_done"], nxt.info["episode"])

        (acting, key), (exp, done, episode) = jax.lax.scan(step, (state.acting, state.key), None,
                                                           length=self.config.num_steps)
        flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), exp)  # (T * E, ...)
        buffer = self.buffer.add(state.buffer, flat)
        params = policy.update_input_norm(state.params, exp.obs, exp.state)
        state = state.replace(params=params, acting=acting, key=key, buffer=buffer,
                              env_steps=state.env_steps + self.config.batch_size)
        return state, {**mean_over_episodes(done, episode), "warmup": warm.astype(jnp.float32)}

    # ----- learning ---------------------------------------------------------------------------------
    def losses(self, params, q, q_target, log_alpha: Array, batch: Experience, key: Array, hp: HParams):
        """(critic loss as a function of q, actor loss as a function of params) on one batch (B, ...); the actor's
        aux carries its log-probabilities and entropy targets for the temperature step (`alpha_loss`)."""
        policy = self.policy
        k_next, k_now = jax.random.split(key)
        alpha = jnp.exp(log_alpha)
        nxt = self.sample(params, batch.next_obs, batch.next_state, batch.next_mask, k_next, hp)
        y = jax.lax.stop_gradient(soft_target(batch.reward, batch.terminated,
                                              self.soft_q(q_target, params, batch.next_state, nxt), nxt.log_prob,
                                              alpha, hp.gamma))
        q_action = jax.vmap(policy.sac_q_action)(batch.action, batch.mask)

        def critic_loss(q):
            pred = jax.vmap(self.q_values, in_axes=(None, None, 0, 0), out_axes=1)(q, params, batch.state,
                                                                                 q_action)  # (2, B)
            return jnp.mean(jnp.sum(jnp.square(pred - y), 0)), {"q_loss": jnp.mean(jnp.square(pred - y)),
                                                                  "q_mean": jnp.mean(pred)}

        def actor_loss(params):
            now = self.sample(params, batch.obs, batch.state, batch.mask, k_now, hp)
            q_pi = self.soft_q(q, params, batch.state, now)
            loss = jnp.mean(jnp.sum(alpha * now.log_prob, -1) - q_pi) + jnp.mean(now.aux_loss)
            target = jax.vmap(policy.sac_target_entropy, in_axes=(0, None))(batch.mask, hp)
            return loss, ({"actor_loss": loss, "entropy": -jnp.mean(now.log_prob),
                           **jax.tree.map(jnp.mean, now.metrics)}, (now.log_prob, target))

        return critic_loss, actor_loss

    def gradient_step(self, state: SACState, hp: HParams, txs, key: Array):
        """One critic, actor, temperature and target step on a fresh batch: (state, metrics)."""
        actor_tx, critic_tx, alpha_tx = txs
        k_sample, k_loss = jax.random.split(key)
        batch = self.buffer.sample(state.buffer, k_sample).experience
        critic_loss, actor_loss = self.losses(state.params, state.q, state.q_target, state.log_alpha, batch,
                                              k_loss, hp)
        opt_actor, opt_critic, opt_alpha = state.opt_state
        grads, q_metrics = jax.grad(critic_loss, has_aux=True)(state.q)
        updates, opt_critic = critic_tx.update(grads, opt_critic, state.q)
        q = optax.apply_updates(state.q, updates)
        grads, (a_metrics, (log_prob, target)) = jax.grad(actor_loss, has_aux=True)(state.params)
        updates, opt_actor = actor_tx.update(grads, opt_actor, state.params)
        params = optax.apply_updates(state.params, updates)
        a_grad = jax.grad(alpha_loss)(state.log_alpha, log_prob, target)
        updates, opt_alpha = alpha_tx.update(a_grad, opt_alpha, state.log_alpha)
        log_alpha = optax.apply_updates(state.log_alpha, updates)
        state = state.replace(params=params, q=q, q_target=polyak(state.q_target, q, hp.polyak),
                              log_alpha=log_alpha, opt_state=(opt_actor, opt_critic, opt_alpha))
        return state, {**q_metrics, **a_metrics, "alpha": jnp.mean(jnp.exp(log_alpha))}

    def update(self, state: SACState, hp: HParams) -> tuple[SACState, dict]:
        """One rollout into the buffer, then the gradient steps (once learning has started). Metrics: scalars."""
        txs = self.optimizers(state.params, hp)
        state, metrics = self.collect(state, hp)
        key, k_learn = jax.random.split(state.key)
        state = state.replace(key=key)
        learn = (buffer_count(state.buffer) >= self.config.sac_batch_size) & \
            (state.env_steps >= self.config.warmup_steps)

        def steps(state):
            return jax.lax.scan(lambda s, k: self.gradient_step(s, hp, txs, k), state,
                                jax.random.split(k_learn, self.grad_steps))

        shapes = jax.eval_shape(steps, state)[1]
        state, learn_metrics = jax.lax.cond(
            learn, steps, lambda s: (s, jax.tree.map(lambda m: jnp.zeros(m.shape, m.dtype), shapes)), state)
        metrics = {**metrics, **jax.tree.map(jnp.mean, learn_metrics), "learning": learn.astype(jnp.float32),
                   "buffer_size": buffer_count(state.buffer).astype(jnp.float32)}
        return state, metrics
