"""Advantage estimation and PPO losses: small pure functions on time-major arrays (rlax style)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

Array = jax.Array


def gae(reward: Array, value: Array, bootstrap_value: Array, last_value: Array, terminated: Array,
        truncated: Array, gamma: Array, lam: Array) -> tuple[Array, Array]:
    """Generalised advantage estimation (Schulman et al. 2016) with termination and truncation apart.

    Args (T steps, any trailing shape S, e.g. S = (N,) per-agent values):
        reward: (T, *S) reward of transition t (s_t -> s_{t+1})
        value: (T, *S) V(s_t)
        bootstrap_value: (T, *S) V(final observation of the episode that ended at t); used where truncated
        last_value: (*S,) V(s_T), the observation after the last transition
        terminated: (T, *P) bool, P a prefix of S (e.g. environments): the episode ended inside the
            task at t: the next value is 0
        truncated: (T, *P) bool: the episode hit its time limit at t: bootstrap from `bootstrap_value`
    Returns (advantages (T, *S), returns (T, *S) = advantages + value).
    """
    chex.assert_equal_shape([reward, value, bootstrap_value])
    chex.assert_equal_shape([terminated, truncated])
    if reward.shape[: terminated.ndim] != terminated.shape:
        raise ValueError(f"terminated {terminated.shape} must be a prefix of reward {reward.shape}")
    extra = (1,) * (reward.ndim - terminated.ndim)
    term = terminated.reshape(*terminated.shape, *extra).astype(reward.dtype)
    trunc = truncated.reshape(*truncated.shape, *extra).astype(reward.dtype)
    next_value = jnp.concatenate([value[1:], last_value[None]], axis=0)
    # After a truncation the next observation in the rollout belongs to a new episode: use the final one.
    next_value = jnp.where(trunc > 0, bootstrap_value, next_value) * (1.0 - term)
    delta = reward + gamma * next_value - value
    not_done = 1.0 - jnp.maximum(term, trunc)

    def backward(carry, x):
        delta_t, not_done_t = x
        carry = delta_t + gamma * lam * not_done_t * carry
        return carry, carry

    _, adv = jax.lax.scan(backward, jnp.zeros_like(last_value), (delta, not_done), reverse=True)
    return adv, adv + value


def ppo_policy_loss(log_prob: Array, old_log_prob: Array, advantage: Array, clip_eps: Array,
                    weight: Array | None = None):
    """Clipped surrogate (Schulman et al. 2017), averaged. Returns (loss, approx_kl, clip_fraction).

    `weight` (same shape, no gradient) multiplies each sample's clipped surrogate: HAPPO's factor, the product of
    the ratios of the agents updated before this one (Kuba et al. 2022; HARL harl/algorithms/actors/happo.py
    `factor_batch * min(surr1, surr2)`)."""
    chex.assert_equal_shape([log_prob, old_log_prob, advantage])
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    unclipped = ratio * advantage
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantage
    surrogate = jnp.minimum(unclipped, clipped)
    if weight is not None:
        chex.assert_equal_shape([weight, advantage])
        surrogate = jax.lax.stop_gradient(weight) * surrogate
    loss = -jnp.mean(surrogate)
    approx_kl = jnp.mean((ratio - 1.0) - log_ratio)
    clip_frac = jnp.mean(jnp.abs(ratio - 1.0) > clip_eps)
    return loss, approx_kl, clip_frac


def huber(err: Array, delta: Array, one_sided: bool = False) -> Array:
    """0.5 e^2 for |e| <= delta, delta (|e| - delta / 2) beyond.

    `one_sided=True` reproduces `huber_loss` of the MAPPO codebase exactly (marlbenchmark/on-policy,
    onpolicy/utils/util.py): its linear branch is taken only for e > delta, so an error e = target - value below
    -delta (a value too high by more than delta) gives zero loss and no gradient. The AgentMixer authors' copy
    (LiZhYun/BackPropagationThroughAgents bta/utils/util.py, commit 1324ad8) tests |e| > delta: the two-sided
    form, `one_sided=False`."""
    a = jnp.abs(err)
    linear = err > delta if one_sided else a > delta
    return jnp.where(a <= delta, 0.5 * jnp.square(err), jnp.where(linear, delta * (a - 0.5 * delta), 0.0))


def value_loss(value: Array, old_value: Array, target: Array, clip_eps: Array, clip: bool,
               huber_delta: Array | None = None, one_sided: bool = False) -> Array:
    """0.5 * squared error (or the Huber loss with `huber_delta`, `one_sided` as MAPPO's), optionally clipped
    around the old value as in PPO2 / MAPPO (the larger of the clipped and unclipped losses), averaged."""
    chex.assert_equal_shape([value, old_value, target])

    def loss(err):  # err = value - target; MAPPO's huber reads e = target - value
        return 0.5 * jnp.square(err) if huber_delta is None else huber(-err, huber_delta, one_sided)

    out = loss(value - target)
    if clip:
        v_clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
        out = jnp.maximum(out, loss(v_clipped - target))
    return jnp.mean(out)


def normalize(x: Array, eps: float = 1e-8) -> Array:
    return (x - jnp.mean(x)) / (jnp.std(x) + eps)
