"""PPO: clipped joint or per-agent ratios with a per-agent critic (MAPPO, IPPO, AIL, AgentMixer-PPO).

One `update` = one rollout of `num_steps` steps in `num_envs` environments (through `agentmixer_jax.acting`),
GAE with termination and truncation kept apart, then `update_epochs` epochs of `num_minibatches` minibatches
(`lax.scan` all the way down). Whole sequences form the minibatches of recurrent actors, each replayed from
the recurrent state it had in the rollout; shuffled single steps otherwise. The policy decides what a ratio
is (K = 1 joint, K = N per agent) and adds its own auxiliary losses (IGC cloning, AIL's imitation KL).

Every hyperparameter is read from the traced `HParams` passed to `update`, learning rates through
`optax.inject_hyperparams`, so vmapping over them costs no recompilation.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from agentmixer_jax import losses
from agentmixer_jax import normalization as norm
from agentmixer_jax.acting import Acting, ActingCarry
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.policies.base import ActorCritic

Array = jax.Array


@struct.dataclass
class Transition:
    """One step of one environment (a rollout stacks (T, E, ...))."""

    obs: Array  # (N, obs_dim) raw (the policy normalises its inputs itself)
    state: Array  # (state_dim,) raw
    mask: Array  # (N, A) or (N, d)
    start: Array  # () bool: first step of an episode (recurrent state reset before acting)
    action: Array  # (N,) or (N, d)
    log_prob: Array  # (K,)
    extras: Any
    value: Array  # (N,) the critic's output (normalised with value_norm)
    reward: Array  # (N,)
    terminated: Array  # ()
    truncated: Array  # ()
    bootstrap_value: Array  # (N,) V(final obs) of an episode ending here (the critic's output)
    episode_done: Array  # () bool
    episode: dict  # scalars of the last finished episode


def guarded_step(tx: optax.GradientTransformation, params, opt_state, stopped: Array, grads, approx_kl: Array,
                 target_kl: Array):
    """One optimiser step, unless this update has stopped early (`target_kl` > 0, as Stable-Baselines3's PPO:
    once a minibatch's approximate KL to the behaviour policy, measured before its step, exceeds 1.5 x target_kl,
    that step and every later one of the update are skipped; stable_baselines3/ppo/ppo.py, `PPO.train`).
    approx_kl is the loss's (mean over the K ratios). Returns (params, opt_state, stopped ())."""
    stopped = stopped | ((target_kl > 0) & (approx_kl > 1.5 * target_kl))
    updates, new_opt_state = tx.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(stopped, o, n), new, old)
    return keep(new_params, params), keep(new_opt_state, opt_state), stopped


@struct.dataclass
class PPOState:
    """Everything PPO needs to continue: parameters, optimiser, the environments mid-episode, the key."""

    params: Any  # the policy's parameters: {"actor", "critic", ...; "input_norm": running statistics}
    opt_state: Any  # optax state (its injected learning rates included)
    acting: ActingCarry  # (E, ...) env state, time step, recurrent state, episode starts
    key: Array  # (2,) uint32
    value_norm: norm.ValueNorm  # running statistics of the value targets (used with config.value_norm)
    critic_hidden: Array | None  # (E, N, gru_size) recurrent critic state; None for a feed-forward critic


def mean_over_episodes(done: Array, stats: dict) -> dict:
    """Average each statistic over the steps where an episode finished (NaN-free: 0 when none did)."""
    count = jnp.sum(done)
    out = {f"episode_{k}": jnp.sum(jnp.where(done, v, 0.0)) / jnp.maximum(count, 1) for k, v in stats.items()}
    out["episodes"] = count.astype(jnp.float32)
    return out


class PPO:
    """The PPO learner of one policy: `init(...) -> PPOState`, `update(state, hp) -> (state, metrics)`."""

    off_policy = False  # on-policy: each update learns from its own rollout only
    squashes_actions = False  # continuous actions are clipped to the box, not squashed

    def __init__(self, policy: ActorCritic, acting: Acting, config: TrainConfig):
        self.policy = policy
        self.acting = acting
        self.config = config
        # the critic's output on raw inputs (normalised by the policy); in ValueNorm's units with value_norm
        def value_step(params, h, obs, state, reset):
            return policy.value_step(params, h, *policy.inputs(params, obs, state), reset)

        # (E, ...) environments: (h', values (E, N)); feed-forward critics pass h through untouched
        self._value_step = jax.vmap(value_step, in_axes=(None, 0, 0, 0, 0))

    # ----- optimiser ---------------------------------------------------------------------------------
    def optimizer(self, params, hp: HParams) -> optax.GradientTransformation:
        """Adam per parameter group (actor, critic, pm), learning rates from `hp` through inject_hyperparams."""
        lrs = {"actor": hp.lr, "critic": hp.critic_lr, "pm": hp.pm_lr}
        labels = {k: self.policy.param_group(k) for k in params}
        used = sorted(set(labels.values()))
        # running statistics ride in params (so saved policies replay the same) but are never trained
        return optax.multi_transform(
            {g: optax.set_to_zero() if g == "frozen" else self.adam(lrs[g], hp) for g in used}, labels)

    def adam(self, lr: Array, hp: HParams) -> optax.GradientTransformation:
        """One parameter group's optimiser: global-norm clipping, then Adam (eps 1e-5) at `lr`, annealed linearly
        to 0 over the run with `anneal_lr` (one optimiser step per minibatch, epochs x minibatches per update)."""
        config = self.config
        steps_per_update = config.update_epochs * config.num_minibatches
        if config.anneal_lr:
            lr_value = lr
            lr = lambda count: lr_value * (1.0 - (count // steps_per_update) / config.num_updates)
        return optax.chain(optax.clip_by_global_norm(hp.max_grad_norm),
                           optax.inject_hyperparams(optax.adam)(learning_rate=lr, eps=1e-5))

    def init_opt_state(self, params, hp: HParams):
        return self.optimizer(params, hp).init(params)

    def init(self, k_params: Array, k_env: Array, k_run: Array, hp: HParams) -> PPOState:
        params = self.policy.init(k_params)
        opt_state = self.init_opt_state(params, hp)
        acting = self.acting.reset(k_env, self.config.num_envs)
        # input statistics start from the first observations, so the first rollout is already normalised
        params = self.policy.update_input_norm(params, acting.timestep.obs, acting.timestep.state)
        h = self.policy.initial_critic_hidden()
        critic_hidden = None if h is None else jnp.broadcast_to(h, (self.config.num_envs, *h.shape))
        return PPOState(params=params, opt_state=opt_state, acting=acting, key=k_run,
                        value_norm=norm.value_norm_init(), critic_hidden=critic_hidden)

    # ----- rollout -----------------------------------------------------------------------------------
    def rollout(self, state: PPOState, hp: HParams):
        """T steps of the policy's behaviour: (state, trajectory (T, E, ...), recurrent states of the actors and
        the critic at its start, the behaviour's metrics averaged over the rollout)."""
        policy = self.policy

        def behaviour(params, out, obs_state, mask, key, episode_key):
            if episode_key is None:
                return policy.act(params, out, obs_state, mask, key, hp)
            return policy.act(params, out, obs_state, mask, key, hp, episode_key=episode_key)

        def step(state: PPOState, _):
            key, k_act, k_env = jax.random.split(state.key, 3)
            carry, rec = self.acting.step(state.params, state.acting, k_act, k_env, behaviour)
            nxt = rec.next
            hc, value = self._value_step(state.params, state.critic_hidden, rec.obs, rec.state, rec.start)
            # the final observation continues the episode the (recurrent) critic has been reading
            _, boot = self._value_step(state.params, hc, nxt.info["final_obs"], nxt.info["final_state"],
                                       jnp.zeros_like(rec.start))
            tr = Transition(obs=rec.obs, state=rec.state, mask=rec.mask, start=rec.start,
                            action=rec.policy.action, log_prob=rec.policy.log_prob, extras=rec.policy.extras,
                            value=value, reward=nxt.reward, terminated=nxt.terminated, truncated=nxt.truncated,
                            bootstrap_value=boot, episode_done=nxt.info["episode_done"],
                            episode=nxt.info["episode"])
            return state.replace(acting=carry, key=key, critic_hidden=hc), (tr, rec.policy.metrics)

        hidden0 = (state.acting.hidden, state.critic_hidden)
        state, (traj, act_metrics) = jax.lax.scan(step, state, None, length=self.config.num_steps)
        return state, traj, hidden0, jax.tree.map(jnp.mean, act_metrics)

    # ----- loss on a time-major minibatch (T', B', ...) ------------------------------------------------
    def loss(self, params, hp: HParams, mb: Transition, hidden0: tuple[Array, Array], adv: Array,
             targets: Array):
        """hidden0: the actors' (B', N, gru) and the critic's (B', N, gru) or None recurrent states at the first
        step of the minibatch's sequences."""
        policy, config = self.policy, self.config
        hidden0, critic_hidden0 = hidden0
        v_actor = jax.vmap(policy.actor_step, in_axes=(None, 0, 0, 0, 0))

        def actor_scan(h, x):
            obs, mask, start = x
            return v_actor(params, h, obs, mask, start)

        obs, state = policy.inputs(params, mb.obs, mb.state)
        _, out = jax.lax.scan(actor_scan, hidden0, (obs, mb.mask, mb.start))
        evaluate = jax.vmap(jax.vmap(policy.evaluate, in_axes=(None, 0, 0, 0, 0, 0, None)),
                            in_axes=(None, 0, 0, 0, 0, 0, None))
        log_prob, entropy, aux_loss, aux_metrics = evaluate(params, out, state, mb.mask, mb.action,
                                                            mb.extras, hp)
        pol_adv = policy.policy_advantage(adv)
        if config.normalize_advantages:
            pol_adv = losses.normalize(pol_adv)
        pg_loss, approx_kl, clip_frac = losses.ppo_policy_loss(log_prob, mb.log_prob, pol_adv, hp.clip_eps)
        v_loss = self.critic_loss(params, hp, mb, critic_hidden0, targets)
        ent = jnp.mean(entropy)
        total = pg_loss - hp.ent_coef * ent + hp.vf_coef * v_loss + jnp.mean(aux_loss)
        metrics = {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": ent, "approx_kl": approx_kl,
                   "clip_fraction": clip_frac, **jax.tree.map(jnp.mean, aux_metrics)}
        return total, metrics

    def critic_loss(self, params, hp: HParams, mb: Transition, critic_hidden0: Array | None, targets: Array):
        """The value loss on a time-major minibatch (T', B', ...); critic_hidden0: (B', N, gru) or None."""
        config = self.config
        if config.recurrent_critic:
            def critic_scan(h, x):
                return self._value_step(params, h, *x)

            _, values = jax.lax.scan(critic_scan, critic_hidden0, (mb.obs, mb.state, mb.start))
        else:
            values = jax.vmap(self._value_step, in_axes=(None, None, 0, 0, 0))(params, None, mb.obs, mb.state,
                                                                            mb.start)[1]
        return losses.value_loss(values, mb.value, targets, hp.clip_eps, config.clip_value_loss,
                                 None if config.value_loss == "mse" else hp.huber_delta,
                                 one_sided=config.value_loss == "huber_mappo")

    def minibatches(self, key: Array, tree):
        """(T, E, ...) -> (M, T', B', ...): whole sequences for recurrent actors, shuffled steps otherwise."""
        M, T, E = self.config.num_minibatches, self.config.num_steps, self.config.num_envs
        if self.config.recurrent:
            perm = jax.random.permutation(key, E)
            return jax.tree.map(
                lambda x: jnp.swapaxes(x[:, perm].reshape(T, M, E // M, *x.shape[2:]), 0, 1), tree)
        perm = jax.random.permutation(key, T * E)
        return jax.tree.map(lambda x: x.reshape(T * E, *x.shape[2:])[perm].reshape(M, 1, (T * E) // M,
                                                                                     *x.shape[2:]), tree)

    # ----- one update --------------------------------------------------------------------------------
    def collect(self, state: PPOState, hp: HParams):
        """A rollout with its advantages: (state (value_norm updated, PopArt applied), trajectory (T, E, ...),
        (actor, critic) recurrent states at its start, advantages (T, E, N), value targets (T, E, N) in the
        critic's units, the behaviour's metrics)."""
        config = self.config
        state, traj, hidden0, act_metrics = self.rollout(state, hp)
        last_ts = state.acting.timestep
        _, last_value = self._value_step(state.params, state.critic_hidden, last_ts.obs, last_ts.state,
                                         state.acting.start)
        vn = state.value_norm
        # with ValueNorm the critic's outputs are normalised: GAE runs on denormalised values, the critic
        # fits the targets normalised by statistics that include this batch (MAPPO, r_mappo.py cal_value_loss)
        real = (lambda v: norm.value_denormalize(vn, v)) if config.value_norm else (lambda v: v)
        adv, targets = losses.gae(traj.reward, real(traj.value), real(traj.bootstrap_value), real(last_value),
                                  traj.terminated, traj.truncated, hp.gamma, hp.gae_lambda)
        if config.value_norm:
            new_vn = norm.value_norm_update(vn, targets)
            if config.popart:  # the critic's outputs (and the rollout's, for value clipping) keep their meaning
                params = self.policy.rescale_value_head(
                    state.params, lambda kernel, bias: norm.popart_rescale(kernel, bias, vn, new_vn))
                state = state.replace(params=params)
                traj = traj.replace(value=norm.value_renormalize(vn, new_vn, traj.value))
            vn = new_vn
            targets = norm.value_normalize(vn, targets)
        return state.replace(value_norm=vn), traj, hidden0, adv, targets, act_metrics

    def finish(self, state: PPOState, params, opt_state, key: Array, traj: Transition, metrics: dict,
               act_metrics: dict) -> tuple[PPOState, dict]:
        """The update's end: metrics completed with the behaviour's and the episodes', input statistics updated
        (after the epochs, so every ratio compared policies on the same inputs)."""
        metrics = {**metrics, **act_metrics, **mean_over_episodes(traj.episode_done, traj.episode)}
        params = self.policy.update_input_norm(params, traj.obs, traj.state)
        return state.replace(params=params, opt_state=opt_state, key=key), metrics

    def update(self, state: PPOState, hp: HParams) -> tuple[PPOState, dict]:
        """One rollout and the PPO epochs on it. Metrics: scalars (losses, behaviour and episode statistics)."""
        config = self.config
        T = config.num_steps
        tx = self.optimizer(state.params, hp)
        grad_fn = jax.grad(self.loss, has_aux=True)
        state, traj, (hidden0, critic_hidden0), adv, targets, act_metrics = self.collect(state, hp)

        def epoch(carry, _):
            params, opt_state, stopped, key = carry
            key, k_perm = jax.random.split(key)
            epoch_traj = traj
            if self.policy.redraws_extras:  # (AR-MAPPO) a fresh draw for each epoch's re-scoring
                k_perm, k_extras = jax.random.split(k_perm)
                epoch_traj = traj.replace(extras=self.policy.redraw_extras(k_extras, traj.extras))
            # recurrent: each sequence starts from its stored rollout state (only [0] of the time axis is used)
            h_seq = jax.tree.map(lambda h: jnp.broadcast_to(h, (T, *h.shape)), (hidden0, critic_hidden0)) \
                if config.recurrent else None
            batch = self.minibatches(k_perm, (epoch_traj, h_seq, adv, targets))

            def mb_step(carry, mb):
                params, opt_state, stopped = carry
                mb_traj, mb_h, mb_adv, mb_targets = mb
                if config.recurrent:
                    h0 = jax.tree.map(lambda h: h[0], mb_h)
                else:
                    h0 = jax.tree.map(lambda h: jnp.zeros((mb_adv.shape[1], *h.shape[1:]), h.dtype),
                                      (hidden0, critic_hidden0))
                grads, metrics = grad_fn(params, hp, mb_traj, h0, mb_adv, mb_targets)
                params, opt_state, stopped = guarded_step(tx, params, opt_state, stopped, grads,
                                                          metrics["approx_kl"], hp.target_kl)
                return (params, opt_state, stopped), {**metrics, "kl_stop": stopped.astype(jnp.float32)}

            (params, opt_state, stopped), metrics = jax.lax.scan(mb_step, (params, opt_state, stopped), batch)
            return (params, opt_state, stopped, key), metrics

        key, k_epochs = jax.random.split(state.key)
        (params, opt_state, _, _), metrics = jax.lax.scan(
            epoch, (state.params, state.opt_state, jnp.zeros((), bool), k_epochs), None, length=config.update_epochs)
        return self.finish(state, params, opt_state, key, traj, jax.tree.map(jnp.mean, metrics), act_metrics)
