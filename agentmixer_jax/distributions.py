"""Masked per-agent and joint action distributions (distrax), for one joint step of N agents.

Discrete: logits (N, A) already carry -1e9 on unavailable actions. Continuous: the action mask
(N, d) marks the dimensions each agent owns; padded dimensions never count in log-probabilities or
entropies.
"""

from __future__ import annotations

import distrax
import jax
import jax.numpy as jnp

Array = jax.Array
_HALF_LOG_2PI = 0.5 * jnp.log(2.0 * jnp.pi)


def categorical(logits: Array) -> distrax.Categorical:
    """Per-agent categorical: logits (N, A) -> batch shape (N,)."""
    return distrax.Categorical(logits=logits)


def straight_through(logits: Array, noise: Array, tau: Array) -> Array:
    """Hard one-hot of argmax(logits + noise) in the forward pass, soft gradient (temperature tau)."""
    soft = jax.nn.softmax((logits + noise) / tau, axis=-1)
    hard = jax.nn.one_hot(jnp.argmax(logits + noise, axis=-1), logits.shape[-1], dtype=soft.dtype)
    return hard + soft - jax.lax.stop_gradient(soft)


def diag_normal_logp_entropy(mean: Array, log_std: Array, dim_mask: Array, action: Array) -> tuple[Array, Array]:
    """Per-agent diagonal Gaussian: mean, log_std, dim_mask, action (N, d) -> (log_prob (N,), entropy (N,))."""
    dist = distrax.Normal(mean, jnp.exp(log_std))
    m = dim_mask.astype(mean.dtype)
    return jnp.sum(dist.log_prob(action) * m, -1), jnp.sum(dist.entropy() * m, -1)


def joint_gaussian(mean: Array, dim_mask: Array, std: Array, factor: Array | None = None,
                   tril: Array | None = None) -> distrax.Distribution:
    """Joint Gaussian over the flattened (N * d) action with the padded dimensions made inert.

    Args:
        mean: (N, d) joint mean (the concatenation of the individual means: IGC)
        dim_mask: (N, d) bool, True where the dimension belongs to the agent
        std: (N, d) positive diagonal scales
        factor: (N, d, r) low-rank factor U: scale matrix diag(std) + U U^T, covariance its square
                (distrax.MultivariateNormalDiagPlusLowRank; optional)
        tril: (N, d, N * d) rows of a lower-triangular scale L, covariance L L^T (optional; its diagonal
              is replaced by `std`)
    Padded dimensions get unit scale and no correlation; use `joint_log_prob` / `joint_entropy`, which
    place those dimensions at the mean and remove their constant terms.
    """
    m = dim_mask.reshape(-1)
    loc = mean.reshape(-1)
    scale = jnp.where(m, std.reshape(-1), 1.0)
    if tril is not None:
        n = loc.shape[0]
        lower = jnp.tril(tril.reshape(n, n), k=-1) * (m[:, None] & m[None, :])
        return distrax.MultivariateNormalTri(loc, lower + jnp.diag(scale))
    if factor is not None:
        u = factor.reshape(loc.shape[0], -1) * m[:, None]
        return distrax.MultivariateNormalDiagPlusLowRank(loc, scale_diag=scale, scale_u_matrix=u,
                                                         scale_v_matrix=u)
    return distrax.MultivariateNormalDiag(loc, scale)


def joint_log_prob(dist: distrax.Distribution, mean: Array, dim_mask: Array, action: Array) -> Array:
    """log p(action) over the owned dimensions only. action, mean, dim_mask: (N, d) -> ()."""
    a = jnp.where(dim_mask, action, mean).reshape(-1)
    n_pad = jnp.sum(~dim_mask)
    return dist.log_prob(a) + n_pad * _HALF_LOG_2PI


def joint_entropy(dist: distrax.Distribution, dim_mask: Array) -> Array:
    """Entropy over the owned dimensions only: ()."""
    n_pad = jnp.sum(~dim_mask)
    return dist.entropy() - n_pad * (0.5 + _HALF_LOG_2PI)


def tanh_squash(u: Array, dim_mask: Array) -> tuple[Array, Array]:
    """SAC's squashing of an unbounded Gaussian sample u (N, d) into (-1, 1): (tanh(u) masked (N, d), the
    log-determinant log |d tanh(u) / du| per agent (N,) over the owned dimensions), so that
    log p(tanh u) = log p(u) - log_det. The environment's box is an affine map of (-1, 1) (`Acting`), a constant
    offset of every log-probability that the entropy target absorbs."""
    m = dim_mask.astype(u.dtype)
    # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)): exact and finite for any u (no 1 - tanh^2 underflow)
    log_det = 2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))
    return jnp.tanh(u) * m, jnp.sum(log_det * m, -1)


def gumbel_one_hot(logits: Array, key: Array, tau: Array) -> tuple[Array, Array]:
    """A reparameterised categorical sample: (index (...,) int32, straight-through one-hot (..., A)) with the
    hard one-hot forward and the Gumbel-softmax gradient at temperature tau (Jang et al. 2017)."""
    noise = jax.random.gumbel(key, logits.shape)
    return jnp.argmax(logits + noise, -1).astype(jnp.int32), straight_through(logits, noise, tau)
