"""The on-policy runner: `make_train(env, config)` returns a pure `train(key, hparams)`.

Everything happens inside one `jax.jit`: rollouts (`lax.scan` over steps, `vmap` over environments),
advantages, epochs x minibatches (`lax.scan`), and a final evaluation with decentralised mode actions.
`train` is vmappable over keys (seeds) and over `HParams` leaves (sweeps), with no recompilation:

    train = make_train(envs.make("climbing"), TrainConfig(algo="agentmixer"))
    out = jax.jit(jax.vmap(train, in_axes=(0, None)))(jax.random.split(key, 1024), HParams())

Live progress goes through one host callback every `config.log_interval` updates (one call for the
whole vmapped batch, never a per-step host sync).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from agentmixer_jax import losses
from agentmixer_jax.algorithms import ActorCritic, make_algorithm
from agentmixer_jax.config import HParams, TrainConfig
from envs.core import MultiAgentEnv
from envs.wrappers import AutoReset, EpisodeStats

Array = jax.Array
Reporter = Callable[[int, dict[str, np.ndarray]], None]


@struct.dataclass
class Transition:
    """One step of one environment (the rollout stacks (T, E, ...))."""

    obs: Array  # (N, obs_dim)
    state: Array  # (state_dim,)
    mask: Array  # (N, A) or (N, d)
    start: Array  # () bool: first step of an episode (recurrent state reset before acting)
    action: Array  # (N,) or (N, d)
    log_prob: Array  # (K,)
    extras: Any
    value: Array  # (N,)
    reward: Array  # (N,)
    terminated: Array  # ()
    truncated: Array  # ()
    bootstrap_value: Array  # (N,) V(final obs) of an episode ending here
    episode_done: Array  # () bool
    episode: dict  # scalars of the last finished episode


@struct.dataclass
class RunnerState:
    params: Any
    opt_state: Any
    env_state: Any  # (E, ...)
    timestep: Any  # (E, ...)
    hidden: Array  # (E, N, gru_size)
    start: Array  # (E,) bool
    key: Array
    token: Array  # () int32: ties host callbacks into the data flow


@struct.dataclass
class TrainResult:
    params: Any  # final parameters
    metrics: dict  # per-update scalars, (num_updates,) each
    eval: dict  # evaluation with decentralised mode actions: mean over eval episodes, scalars
    reports: Array  # () int32: host progress reports made (keeps the callbacks in the program)


def _wrap(env: MultiAgentEnv) -> MultiAgentEnv:
    if isinstance(env, EpisodeStats):
        return env
    if isinstance(env, AutoReset):
        return EpisodeStats(env)
    return EpisodeStats(AutoReset(env))


def _mean_over_episodes(done: Array, stats: dict) -> dict:
    """Average each statistic over the steps where an episode finished (NaN-free: 0 when none did)."""
    count = jnp.sum(done)
    out = {f"episode_{k}": jnp.sum(jnp.where(done, v, 0.0)) / jnp.maximum(count, 1) for k, v in stats.items()}
    out["episodes"] = count.astype(jnp.float32)
    return out


def make_optimizer(algo: ActorCritic, params, hp: HParams, config: TrainConfig) -> optax.GradientTransformation:
    """Adam per parameter group (actor, critic, pm), learning rates from `hp` through inject_hyperparams."""
    lrs = {"actor": hp.lr, "critic": hp.critic_lr, "pm": hp.pm_lr}
    steps_per_update = config.update_epochs * config.num_minibatches

    def group(lr):
        if config.anneal_lr:
            lr_value = lr
            lr = lambda count: lr_value * (1.0 - (count // steps_per_update) / config.num_updates)
        return optax.chain(optax.clip_by_global_norm(hp.max_grad_norm),
                           optax.inject_hyperparams(optax.adam)(learning_rate=lr, eps=1e-5))

    labels = {k: algo.param_group(k) for k in params}
    used = sorted(set(labels.values()))
    return optax.multi_transform({g: group(lrs[g]) for g in used}, labels)


def eval_key(key: Array) -> Array:
    """The key of `train(key, hp)`'s final evaluation, so `train.evaluate(params, eval_key(key))` repeats it."""
    return jax.random.split(key, 4)[3]


def make_train(env: MultiAgentEnv, config: TrainConfig, env_params=None,
               reporter: Reporter | None = None) -> Callable[[Array, HParams], TrainResult]:
    """Build the pure training function for `env` (a `MultiAgentEnv`, wrapped here if needed)."""
    config.validate()
    env = _wrap(env)
    env_params = env.default_params() if env_params is None else env_params
    spec = env.spec(env_params)
    if config.covariance != "diag" and spec.discrete:
        raise ValueError(f"covariance={config.covariance!r} applies to continuous actions only; "
                         f"{env.name} has discrete actions: use covariance='diag'")
    algo = make_algorithm(config.algo, spec, config)
    E, T, N = config.num_envs, config.num_steps, spec.num_agents
    num_updates = config.num_updates
    interval = min(config.log_interval, num_updates)
    low, high = (None, None) if spec.discrete else (spec.action_space.low, spec.action_space.high)

    v_actor = jax.vmap(algo.actor_step, in_axes=(None, 0, 0, 0, 0))
    v_act = jax.vmap(algo.act, in_axes=(None, 0, 0, 0, 0, None))
    v_value = jax.vmap(algo.value, in_axes=(None, 0, 0))
    v_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    v_reset = jax.vmap(env.reset, in_axes=(0, None))

    def to_env_action(action):
        return action if spec.discrete else jnp.clip(action, low, high)

    # ----- rollout --------------------------------------------------------------------------------
    def rollout(rs: RunnerState, hp: HParams):
        def step(rs: RunnerState, _):
            key, k_act, k_env = jax.random.split(rs.key, 3)
            ts = rs.timestep
            hidden, out = v_actor(rs.params, rs.hidden, ts.obs, ts.action_mask, rs.start)
            pstep = v_act(rs.params, out, ts.state, ts.action_mask, jax.random.split(k_act, E), hp)
            value = v_value(rs.params, ts.obs, ts.state)
            env_state, next_ts = v_step(jax.random.split(k_env, E), rs.env_state, to_env_action(pstep.action),
                                        env_params)
            bootstrap = v_value(rs.params, next_ts.info["final_obs"], next_ts.info["final_state"])
            tr = Transition(obs=ts.obs, state=ts.state, mask=ts.action_mask, start=rs.start,
                            action=pstep.action, log_prob=pstep.log_prob, extras=pstep.extras, value=value,
                            reward=next_ts.reward, terminated=next_ts.terminated, truncated=next_ts.truncated,
                            bootstrap_value=bootstrap, episode_done=next_ts.info["episode_done"],
                            episode=next_ts.info["episode"])
            rs = rs.replace(env_state=env_state, timestep=next_ts, hidden=hidden, start=next_ts.done, key=key)
            return rs, (tr, pstep.metrics)

        hidden0 = rs.hidden
        rs, (traj, act_metrics) = jax.lax.scan(step, rs, None, length=T)
        return rs, traj, hidden0, jax.tree.map(jnp.mean, act_metrics)

    # ----- loss on a time-major minibatch (T', B', ...) ---------------------------------------------
    def loss_fn(params, hp: HParams, mb: Transition, hidden0: Array, adv: Array, targets: Array):
        def actor_scan(h, x):
            obs, mask, start = x
            return v_actor(params, h, obs, mask, start)

        _, out = jax.lax.scan(actor_scan, hidden0, (mb.obs, mb.mask, mb.start))
        evaluate = jax.vmap(jax.vmap(algo.evaluate, in_axes=(None, 0, 0, 0, 0, 0, None)),
                            in_axes=(None, 0, 0, 0, 0, 0, None))
        log_prob, entropy, aux_loss, aux_metrics = evaluate(params, out, mb.state, mb.mask, mb.action,
                                                            mb.extras, hp)
        pol_adv = algo.policy_advantage(adv)
        if config.normalize_advantages:
            pol_adv = losses.normalize(pol_adv)
        pg_loss, approx_kl, clip_frac = losses.ppo_policy_loss(log_prob, mb.log_prob, pol_adv, hp.clip_eps)
        values = jax.vmap(jax.vmap(algo.value, in_axes=(None, 0, 0)), in_axes=(None, 0, 0))(
            params, mb.obs, mb.state)
        v_loss = losses.value_loss(values, mb.value, targets, hp.clip_eps, config.clip_value_loss)
        ent = jnp.mean(entropy)
        total = pg_loss - hp.ent_coef * ent + hp.vf_coef * v_loss + jnp.mean(aux_loss)
        metrics = {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": ent, "approx_kl": approx_kl,
                   "clip_fraction": clip_frac, **jax.tree.map(jnp.mean, aux_metrics)}
        return total, metrics

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def minibatches(key, tree):
        """(T, E, ...) -> (M, T', B', ...): whole sequences for recurrent actors, shuffled steps otherwise."""
        M = config.num_minibatches
        if config.recurrent:
            perm = jax.random.permutation(key, E)
            return jax.tree.map(
                lambda x: jnp.swapaxes(x[:, perm].reshape(T, M, E // M, *x.shape[2:]), 0, 1), tree)
        perm = jax.random.permutation(key, T * E)
        return jax.tree.map(lambda x: x.reshape(T * E, *x.shape[2:])[perm].reshape(M, 1, (T * E) // M,
                                                                                     *x.shape[2:]), tree)

    def update(rs: RunnerState, hp: HParams, tx: optax.GradientTransformation):
        rs, traj, hidden0, act_metrics = rollout(rs, hp)
        last_value = v_value(rs.params, rs.timestep.obs, rs.timestep.state)
        adv, targets = losses.gae(traj.reward, traj.value, traj.bootstrap_value, last_value, traj.terminated,
                                  traj.truncated, hp.gamma, hp.gae_lambda)

        def epoch(carry, _):
            params, opt_state, key = carry
            key, k_perm = jax.random.split(key)
            # recurrent: each sequence starts from its stored rollout state (only [0] of the time axis is used)
            h_seq = jnp.broadcast_to(hidden0, (T, *hidden0.shape)) if config.recurrent else None
            batch = minibatches(k_perm, (traj, h_seq, adv, targets))

            def mb_step(carry, mb):
                params, opt_state = carry
                mb_traj, mb_h, mb_adv, mb_targets = mb
                h0 = mb_h[0] if config.recurrent else jnp.zeros((mb_adv.shape[1], *hidden0.shape[1:]), hidden0.dtype)
                grads, metrics = grad_fn(params, hp, mb_traj, h0, mb_adv, mb_targets)
                updates, opt_state = tx.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), metrics

            (params, opt_state), metrics = jax.lax.scan(mb_step, (params, opt_state), batch)
            return (params, opt_state, key), metrics

        key, k_epochs = jax.random.split(rs.key)
        (params, opt_state, _), metrics = jax.lax.scan(epoch, (rs.params, rs.opt_state, k_epochs), None,
                                                       length=config.update_epochs)
        metrics = jax.tree.map(jnp.mean, metrics)
        metrics.update(act_metrics)
        metrics.update(_mean_over_episodes(traj.episode_done, traj.episode))
        return rs.replace(params=params, opt_state=opt_state, key=key), metrics

    # ----- evaluation with decentralised mode actions -----------------------------------------------
    def evaluate_policy(policy, params, key: Array) -> dict:
        """Mean episode statistics of the greedy `policy(params, out, state, mask)` over eval episodes."""
        n_eval = config.eval_episodes
        k_reset, key = jax.random.split(key)
        env_state, ts = v_reset(jax.random.split(k_reset, n_eval), env_params)
        v_mode = jax.vmap(policy, in_axes=(None, 0, 0, 0))
        stats0 = jax.tree.map(lambda x: jnp.zeros_like(x), ts.info["episode"])
        carry0 = (env_state, ts, jnp.broadcast_to(algo.initial_hidden(), (n_eval, N, config.gru_size)),
                  jnp.ones((n_eval,), bool), jnp.zeros((n_eval,), bool), stats0, key, jnp.int32(0))

        def cond(c):
            return jnp.logical_and(~jnp.all(c[4]), c[7] < 100_000)

        def body(c):
            env_state, ts, h, start, finished, stats, key, t = c
            key, k_env = jax.random.split(key)
            h, out = v_actor(params, h, ts.obs, ts.action_mask, start)
            action = v_mode(params, out, ts.state, ts.action_mask)
            env_state, ts = v_step(jax.random.split(k_env, n_eval), env_state, to_env_action(action), env_params)
            newly = ts.info["episode_done"] & ~finished
            stats = jax.tree.map(lambda s, x: jnp.where(newly, x, s), stats, ts.info["episode"])
            return env_state, ts, h, ts.done, finished | ts.info["episode_done"], stats, key, t + 1

        out = jax.lax.while_loop(cond, body, carry0)
        return jax.tree.map(jnp.mean, out[5])

    def evaluate(params, key: Array) -> dict:
        """Every greedy policy of the algorithm on the same eval starts; keys prefixed as it names them."""
        result = {}
        for prefix, policy in algo.eval_policies().items():
            result.update({prefix + k: v for k, v in evaluate_policy(policy, params, key).items()})
        return result

    # ----- host progress ----------------------------------------------------------------------------
    def report(update_idx: Array, metrics: dict) -> Array:
        if reporter is None:
            return jnp.int32(0)

        def host(idx, m):
            reporter(int(np.max(idx)), {k: np.asarray(v) for k, v in m.items()})
            return np.ones(np.shape(idx), np.int32)

        return jax.pure_callback(host, jax.ShapeDtypeStruct((), jnp.int32), update_idx, metrics,
                                 vmap_method="broadcast_all")

    # ----- train -----------------------------------------------------------------------------------
    def train(key: Array, hparams: HParams) -> TrainResult:
        hp = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), hparams)
        k_init, k_env, k_run, _ = jax.random.split(key, 4)
        k_eval = eval_key(key)
        params = algo.init(k_init)
        tx = make_optimizer(algo, params, hp, config)
        env_state, ts = v_reset(jax.random.split(k_env, E), env_params)
        rs = RunnerState(params=params, opt_state=tx.init(params), env_state=env_state, timestep=ts,
                         hidden=jnp.broadcast_to(algo.initial_hidden(), (E, N, config.gru_size)),
                         start=jnp.ones((E,), bool), key=k_run, token=jnp.int32(0))

        def chunk(rs: RunnerState, chunk_idx):
            rs, metrics = jax.lax.scan(lambda r, _: update(r, hp, tx), rs, None, length=interval)
            token = report((chunk_idx + 1) * interval, jax.tree.map(jnp.mean, metrics))
            return rs.replace(token=rs.token + token), metrics

        n_chunks, rest = divmod(num_updates, interval)
        rs, metrics = jax.lax.scan(chunk, rs, jnp.arange(n_chunks))
        metrics = jax.tree.map(lambda x: x.reshape(n_chunks * interval, *x.shape[2:]), metrics)
        if rest:
            rs, tail = jax.lax.scan(lambda r, _: update(r, hp, tx), rs, None, length=rest)
            metrics = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), metrics, tail)
        return TrainResult(params=rs.params, metrics=metrics, eval=evaluate(rs.params, k_eval), reports=rs.token)

    train.evaluate = evaluate  # type: ignore[attr-defined]  # (params, key) -> eval dict; train uses eval_key(key)
    train.config = config  # type: ignore[attr-defined]
    train.spec = spec  # type: ignore[attr-defined]
    train.algo = algo  # type: ignore[attr-defined]
    return train
