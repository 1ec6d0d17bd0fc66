"""HAPPO (Kuba et al., ICLR 2022, "Trust Region Policy Optimisation in Multi-Agent Reinforcement Learning"):
the agents' actors are updated one after another, in a fresh random order every update; agent i_m maximises the
clipped surrogate of its own ratio with the advantage weighted by the product of the ratios of the agents updated
before it, M = prod_{j < m} pi_new_j(a_j | o_j) / pi_old_j(a_j | o_j) (the sequential policy update that gives
the monotonic improvement guarantee). The centralised critic is trained after the actors, on its own.

Following the reference implementation (PKU-MARL/HARL, harl/runners/on_policy_ha_runner.py at commit 47ba706 and
harl/algorithms/actors/happo.py at 9eddb5d):
- the factor M is kept per sample (T, E), starts at 1 each update, and after agent i's epochs is multiplied by
  exp(log pi_i after - log pi_i before its epochs) on the whole batch (no gradient);
- agent i's surrogate uses its own ratio against the behaviour policy, min(r A, clip(r) A), times M;
- each agent has its own Adam (per-agent parameters); with shared parameters one Adam serves every turn;
- advantages (the per-agent advantages of the centralised critic, HARL's "FP" state type) are normalised once over
  the whole batch, not per minibatch;
- the critic runs the same epochs x minibatches as the actors (HARL's critic_epoch, critic_num_mini_batch
  defaults), with the value loss of `learners.ppo` (clipping, Huber, ValueNorm, PopArt as configured).

Rollout, GAE, ValueNorm and input normalisation are PPO's (`PPO.collect`, `PPO.finish`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from agentmixer_jax import losses
from agentmixer_jax.config import HParams
from agentmixer_jax.learners.ppo import PPO, PPOState, guarded_step

Array = jax.Array


class HAPPO(PPO):
    """The HAPPO learner of a `HAPPOPolicy`. opt_state = {"actor": per-agent (leading N axis) or shared Adam
    states, "critic": the critic's Adam state}."""

    # ----- optimisers ------------------------------------------------------------------------------
    def actor_tx(self, hp: HParams) -> optax.GradientTransformation:
        return self.adam(hp.lr, hp)

    def critic_tx(self, hp: HParams) -> optax.GradientTransformation:
        return self.adam(hp.critic_lr, hp)

    def init_opt_state(self, params, hp: HParams):
        init, agents = self.actor_tx(hp).init, self.policy.all_agent_params(params)
        actor = init(agents) if self.policy.shared else jax.vmap(init)(agents)
        return {"actor": actor, "critic": self.critic_tx(hp).init(params["critic"])}

    def _opt_of(self, opt_actor, i: Array):
        if self.policy.shared:
            return opt_actor
        return jax.tree.map(lambda x: jax.lax.dynamic_index_in_dim(x, i, keepdims=False), opt_actor)

    def _set_opt(self, opt_actor, i: Array, new):
        if self.policy.shared:
            return new
        return jax.tree.map(lambda x, v: jax.lax.dynamic_update_index_in_dim(x, v, i, axis=0), opt_actor, new)

    # ----- one agent ---------------------------------------------------------------------------------
    def order(self, key: Array) -> Array:
        """(N,) int32: this update's agent order, a random permutation (0..N-1 with `happo_fixed_order`)."""
        n = self.policy.num_agents
        if self.config.happo_fixed_order:
            return jnp.arange(n, dtype=jnp.int32)
        return jax.random.permutation(key, n).astype(jnp.int32)

    def agent_log_prob_entropy(self, params, agent: dict, i: Array, data: dict, h0: Array):
        """Agent i's (log_prob, entropy), each (T', B'), on its time-major data (T', B', ...): raw obs, mask,
        start, action; from the actor state h0 (B', gru) at the first step (sequences) or zeros (single steps)."""
        policy = self.policy
        agent_step = jax.vmap(policy.agent_step, in_axes=(None, None, 0, 0, 0, 0))
        log_prob_entropy = jax.vmap(policy.agent_log_prob_entropy, in_axes=(None, 0, 0, 0))

        def step(h, x):
            obs, mask, start, action = x
            h, out = agent_step(agent, i, h, policy.obs_inputs(params, obs), mask, start)
            return h, log_prob_entropy(agent, out, mask, action)

        _, (logp, ent) = jax.lax.scan(step, h0, (data["obs"], data["mask"], data["start"], data["action"]))
        return logp, ent

    def agent_turn(self, params, opt_actor, i: Array, factor: Array, traj, hidden0, adv: Array, key: Array,
                   hp: HParams):
        """Agent i's epochs on its own data; returns (params, opt_actor, the factor for the next agent (T, E),
        metrics). factor (T, E) is the product of the ratios of the agents updated before i."""
        policy, config = self.policy, self.config
        T, E = config.num_steps, config.num_envs
        take = lambda x: jax.lax.dynamic_index_in_dim(x, i, axis=2, keepdims=False)
        data = {"obs": take(traj.obs), "mask": take(traj.mask), "action": take(traj.action),
                "old_log_prob": take(traj.log_prob), "adv": take(adv), "factor": factor, "start": traj.start}
        h_all = jax.lax.dynamic_index_in_dim(hidden0, i, axis=1, keepdims=False)  # (E, gru) at the rollout start

        def batch_log_prob(agent):  # (T, E): whole sequences, or every step on its own
            if config.recurrent:
                return self.agent_log_prob_entropy(params, agent, i, data, h_all)[0]
            flat = jax.tree.map(lambda v: v.reshape(1, T * E, *v.shape[2:]), data)
            h0 = jnp.zeros((T * E, *h_all.shape[1:]), h_all.dtype)
            return self.agent_log_prob_entropy(params, agent, i, flat, h0)[0].reshape(T, E)

        def loss(agent, mb, h0):
            logp, ent = self.agent_log_prob_entropy(params, agent, i, mb, h0)
            pg, kl, clip = losses.ppo_policy_loss(logp, mb["old_log_prob"], mb["adv"], hp.clip_eps,
                                                  weight=mb["factor"])
            e = jnp.mean(ent)
            return pg - hp.ent_coef * e, {"policy_loss": pg, "entropy": e, "approx_kl": kl, "clip_fraction": clip}

        grad_fn = jax.grad(loss, has_aux=True)
        tx = self.actor_tx(hp)

        def epoch(carry, k):
            h_seq = jnp.broadcast_to(h_all, (T, *h_all.shape)) if config.recurrent else None
            batch = self.minibatches(k, (data, h_seq))

            def mb_step(carry, mb):
                agent, opt, stopped = carry
                mb_data, mb_h = mb
                h0 = mb_h[0] if config.recurrent else jnp.zeros((mb_data["adv"].shape[1], *h_all.shape[1:]),
                                                                h_all.dtype)
                grads, metrics = grad_fn(agent, mb_data, h0)
                agent, opt, stopped = guarded_step(tx, agent, opt, stopped, grads, metrics["approx_kl"],
                                                   hp.target_kl)
                return (agent, opt, stopped), {**metrics, "kl_stop": stopped.astype(jnp.float32)}

            return jax.lax.scan(mb_step, carry, batch)

        agent = policy.agent_params(params, i)
        before = batch_log_prob(agent)
        # target_kl: each agent's turn stops on its own KL
        (agent, opt, _), metrics = jax.lax.scan(epoch, (agent, self._opt_of(opt_actor, i), jnp.zeros((), bool)),
                                                jax.random.split(key, config.update_epochs))
        next_factor = jax.lax.stop_gradient(factor * jnp.exp(batch_log_prob(agent) - before))
        params = policy.set_agent_params(params, i, agent)
        return params, self._set_opt(opt_actor, i, opt), next_factor, jax.tree.map(jnp.mean, metrics)

    def actor_updates(self, params, opt_actor, traj, hidden0, adv: Array, order: Array, key: Array, hp: HParams):
        """Every agent's turn in `order`: (params, opt_actor, the factor each turn used (N, T, E) in turn order,
        metrics averaged over agents)."""
        T, E = self.config.num_steps, self.config.num_envs

        def turn(carry, x):
            params, opt_actor, factor = carry
            i, k = x
            params, opt_actor, nxt, metrics = self.agent_turn(params, opt_actor, i, factor, traj, hidden0, adv, k,
                                                              hp)
            return (params, opt_actor, nxt), (factor, metrics)

        keys = jax.random.split(key, order.shape[0])
        (params, opt_actor, last), (factors, metrics) = jax.lax.scan(
            turn, (params, opt_actor, jnp.ones((T, E), jnp.float32)), (order, keys))
        metrics = jax.tree.map(jnp.mean, metrics)
        metrics["happo_factor_dev"] = jnp.mean(jnp.abs(last - 1.0))  # how far the last agent's weights moved
        return params, opt_actor, factors, metrics

    # ----- the critic --------------------------------------------------------------------------------
    def critic_updates(self, params, opt_critic, traj, critic_hidden0, targets: Array, key: Array, hp: HParams):
        config = self.config
        T = config.num_steps
        tx = self.critic_tx(hp)

        def loss(critic, mb, h0, mb_targets):
            value_loss = self.critic_loss({**params, "critic": critic}, hp, mb, h0, mb_targets)
            return hp.vf_coef * value_loss, value_loss

        grad_fn = jax.grad(loss, has_aux=True)

        def epoch(carry, k):
            h_seq = jnp.broadcast_to(critic_hidden0, (T, *critic_hidden0.shape)) if config.recurrent_critic else None
            batch = self.minibatches(k, (traj, h_seq, targets))

            def mb_step(carry, mb):
                critic, opt = carry
                mb_traj, mb_h, mb_targets = mb
                grads, value_loss = grad_fn(critic, mb_traj, None if mb_h is None else mb_h[0], mb_targets)
                updates, opt = tx.update(grads, opt, critic)
                return (optax.apply_updates(critic, updates), opt), value_loss

            return jax.lax.scan(mb_step, carry, batch)

        (critic, opt), value_loss = jax.lax.scan(epoch, (params["critic"], opt_critic),
                                                 jax.random.split(key, config.update_epochs))
        return {**params, "critic": critic}, opt, jnp.mean(value_loss)

    # ----- one update --------------------------------------------------------------------------------
    def update(self, state: PPOState, hp: HParams) -> tuple[PPOState, dict]:
        state, traj, (hidden0, critic_hidden0), adv, targets, act_metrics = self.collect(state, hp)
        if self.config.normalize_advantages:  # once over the whole batch (HARL, "FP" state type)
            adv = losses.normalize(adv, eps=1e-5)
        key, k_order, k_actors, k_critic = jax.random.split(state.key, 4)
        order = self.order(k_order)
        params, opt_actor, _, metrics = self.actor_updates(state.params, state.opt_state["actor"], traj, hidden0,
                                                           adv, order, k_actors, hp)
        params, opt_critic, value_loss = self.critic_updates(params, state.opt_state["critic"], traj,
                                                             critic_hidden0, targets, k_critic, hp)
        metrics["value_loss"] = value_loss
        return self.finish(state, params, {"actor": opt_actor, "critic": opt_critic}, key, traj, metrics,
                           act_metrics)
