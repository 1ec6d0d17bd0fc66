"""Running statistics the learners keep in their state: input normalisers and ValueNorm.

Two kinds, both pure pytrees updated functionally (so they are checkpointed, vmapped over seeds and resumed
bit for bit like any other part of the learner state):

- `RunningMeanStd`: the exact mean and variance of every input seen so far (counts combined with Chan et al.'s
  parallel update, the statistic Brax PPO's `normalize_observations` keeps). Used for the observations and the
  global state: `normalize(stats, x) = clip((x - mean) / sqrt(var + 1e-8), -10, 10)`.
- `ValueNorm`: the MAPPO paper's value-target normaliser (Yu et al. 2022; marlbenchmark/on-policy,
  onpolicy/utils/valuenorm.py): exponential moving averages of the mean and mean square with weight
  `beta = 0.99999` and a debiasing term, variance clamped below at 1e-2. The critic predicts normalised
  values; GAE runs on denormalised ones.
- PopArt (van Hasselt et al. 2016, "Learning values across many orders of magnitude", eq. 6): with ValueNorm,
  after each statistics update the critic's linear output layer is rescaled, w' = w * s / s', b' = (s * b + m - m')
  / s', so its denormalised outputs are exactly what they were before the update ("preserving outputs").
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

Array = jax.Array

INPUT_CLIP = 10.0  # normalised inputs are clipped to [-10, 10] (as SB3's VecNormalize)
INPUT_EPS = 1e-8  # added to the variance before the square root

VALUE_NORM_BETA = 0.99999  # on-policy ValueNorm defaults (onpolicy/utils/valuenorm.py)
VALUE_NORM_EPS = 1e-5
VALUE_NORM_MIN_VAR = 1e-2


# A running mean / std is a plain dict {"mean": (F,), "var": (F,), "count": ()} (it rides in the policy's
# params, which stay nested dicts of arrays).
RunningMeanStd = dict


def rms_init(num_features: int) -> RunningMeanStd:
    """Statistics of no data: mean 0, variance 1 (the identity normalisation), count 0."""
    return {"mean": jnp.zeros((num_features,), jnp.float32), "var": jnp.ones((num_features,), jnp.float32),
            "count": jnp.zeros((), jnp.float32)}


def rms_update(stats: RunningMeanStd, x: Array) -> RunningMeanStd:
    """Fold a batch x (..., F) into the statistics: afterwards they equal mean / var over all data seen."""
    x = x.reshape(-1, x.shape[-1]).astype(jnp.float32)
    n = jnp.float32(x.shape[0])
    b_mean = jnp.mean(x, axis=0)
    b_var = jnp.mean(jnp.square(x - b_mean), axis=0)
    count = stats["count"]
    total = count + n
    delta = b_mean - stats["mean"]
    mean = stats["mean"] + delta * (n / total)
    # sums of squared deviations combined (Chan, Golub & LeVeque 1979); at count 0 the old variance is ignored
    m2 = stats["var"] * count + b_var * n + jnp.square(delta) * count * n / total
    return {"mean": mean, "var": m2 / total, "count": total}


def rms_normalize(stats: RunningMeanStd, x: Array) -> Array:
    """(x - mean) / sqrt(var + eps), clipped to [-INPUT_CLIP, INPUT_CLIP]; no gradient reaches the statistics."""
    stats = jax.lax.stop_gradient(stats)
    return jnp.clip((x - stats["mean"]) / jnp.sqrt(stats["var"] + INPUT_EPS), -INPUT_CLIP, INPUT_CLIP)


@struct.dataclass
class ValueNorm:
    """MAPPO's ValueNorm of scalar value targets (shared by all agents)."""

    running_mean: Array  # ()
    running_mean_sq: Array  # ()
    debiasing_term: Array  # ()


def value_norm_init() -> ValueNorm:
    z = jnp.zeros((), jnp.float32)
    return ValueNorm(running_mean=z, running_mean_sq=z, debiasing_term=z)


def value_norm_update(vn: ValueNorm, targets: Array, beta: float = VALUE_NORM_BETA) -> ValueNorm:
    """One update with the batch of targets (any shape): EMAs of its mean and mean square, and the debiasing."""
    targets = targets.astype(jnp.float32)
    return ValueNorm(running_mean=beta * vn.running_mean + (1 - beta) * jnp.mean(targets),
                     running_mean_sq=beta * vn.running_mean_sq + (1 - beta) * jnp.mean(jnp.square(targets)),
                     debiasing_term=beta * vn.debiasing_term + (1 - beta))


def value_norm_mean_var(vn: ValueNorm) -> tuple[Array, Array]:
    """Debiased (mean, var): the EMAs divided by the debiasing term, variance clamped at >= 1e-2."""
    d = jnp.maximum(vn.debiasing_term, VALUE_NORM_EPS)
    mean = vn.running_mean / d
    var = jnp.maximum(vn.running_mean_sq / d - jnp.square(mean), VALUE_NORM_MIN_VAR)
    return mean, var


def value_normalize(vn: ValueNorm, x: Array) -> Array:
    mean, var = value_norm_mean_var(jax.lax.stop_gradient(vn))
    return (x - mean) / jnp.sqrt(var)


def value_denormalize(vn: ValueNorm, x: Array) -> Array:
    mean, var = value_norm_mean_var(jax.lax.stop_gradient(vn))
    return x * jnp.sqrt(var) + mean


def popart_rescale(kernel: Array, bias: Array, old: ValueNorm, new: ValueNorm) -> tuple[Array, Array]:
    """The output layer (kernel (H, 1), bias (1,)) whose normalised outputs under `new` denormalise to what
    (kernel, bias) gave under `old`: sigma' * (x @ w' + b') + mu' = sigma * (x @ w + b) + mu for every x."""
    mean, var = value_norm_mean_var(old)
    new_mean, new_var = value_norm_mean_var(new)
    std, new_std = jnp.sqrt(var), jnp.sqrt(new_var)
    return kernel * (std / new_std), (std * bias + mean - new_mean) / new_std


def value_renormalize(old: ValueNorm, new: ValueNorm, x: Array) -> Array:
    """Normalised values under `old` expressed under `new` (what PopArt's rescaled critic now outputs)."""
    return value_normalize(new, value_denormalize(old, x))
