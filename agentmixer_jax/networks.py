"""Individual actors and critics (flax.linen).

Every module here works on ONE joint observation of N agents, with agents as the leading axis; the
caller vmaps over environments and time. Initialisation follows MAPPO's gains (Yu et al. 2022):
sqrt(2) in hidden layers, 0.01 on the policy head, 1 on the value head, either as the standard
deviation scale of a fan-in truncated normal (`weight_init="normal"`) or of orthogonal matrices
(`weight_init="orthogonal"`, as MAPPO and JaxMARL).

Orthogonal matrices are drawn WITHOUT `jnp.linalg.qr`: on jaxlib 0.10 CPU a jitted program with several
batched (vmapped) QR decompositions can hang forever, and `Trainer.init` is vmapped over seeds. `orthogonal`
below draws the same Gaussian matrix as `jax.nn.initializers.orthogonal` and orthonormalises it with
Householder reflections in a `lax.fori_loop` (matrix-vector products only), so it returns the same matrix
(to float rounding) and vmaps over any number of seeds. The GRU's recurrent kernels use it too.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

Array = jax.Array

ACTIVATIONS = {"relu": nn.relu, "tanh": nn.tanh, "gelu": nn.gelu}


INITS = ("normal", "orthogonal")
SQRT2 = np.sqrt(np.float32(2.0))


def householder_q(a: Array) -> Array:
    """The Q factor of a = QR (a: (m, n), m >= n) with a positive diagonal of R, by Householder reflections.

    Equals `q * sign(diag(r))` of `jnp.linalg.qr(a)` (unique for a full-rank a) but uses no LAPACK call."""
    m, n = a.shape
    rows = jnp.arange(m)

    def reflect(k, carry):
        r, q = carry
        x = jnp.where(rows >= k, r[:, k], 0.0)
        xk = r[k, k]
        alpha = -jnp.where(xk >= 0, 1.0, -1.0) * jnp.sqrt(jnp.sum(x * x))
        v = x - alpha * (rows == k)
        v = v / jnp.maximum(jnp.sqrt(jnp.sum(v * v)), 1e-30)
        r = r - 2.0 * jnp.outer(v, v @ r)
        q = q - 2.0 * jnp.outer(q @ v, v)
        return r, q

    r, q = jax.lax.fori_loop(0, n, reflect, (a, jnp.eye(m, dtype=a.dtype)))
    return q[:, :n] * jnp.where(jnp.diagonal(r)[:n] >= 0, 1.0, -1.0)


def orthogonal(scale: float = 1.0, column_axis: int = -1):
    """A QR-free `jax.nn.initializers.orthogonal(scale, column_axis)`: same draw, same matrix up to rounding."""

    def init(key, shape, dtype=jnp.float32):
        n_cols = shape[column_axis]
        n_rows = int(np.prod(shape)) // n_cols
        matrix_shape = (n_cols, n_rows) if n_rows < n_cols else (n_rows, n_cols)
        q = householder_q(jax.random.normal(key, matrix_shape, jnp.float32))
        if n_rows < n_cols:
            q = q.T
        q = jnp.reshape(q, tuple(np.delete(shape, column_axis)) + (n_cols,))
        return (scale * jnp.moveaxis(q, -1, column_axis)).astype(dtype)

    return init


def kernel_init(gain: float, init: str = "normal"):
    if init == "orthogonal":
        return orthogonal(gain)
    return nn.initializers.variance_scaling(gain**2, "fan_in", "truncated_normal")


def dense(features: int, gain: float = SQRT2, name: str | None = None, init: str = "normal") -> nn.Dense:
    return nn.Dense(features, kernel_init=kernel_init(gain, init), bias_init=nn.initializers.zeros, name=name)


def gru_cell(features: int, init: str = "normal") -> nn.GRUCell:
    """flax's GRUCell with a QR-free orthogonal recurrent kernel; the input kernel is flax's default (lecun
    normal), or orthogonal as MAPPO's GRU with `weight_init="orthogonal"`."""
    k_in = orthogonal(1.0) if init == "orthogonal" else nn.initializers.lecun_normal()
    return nn.GRUCell(features, kernel_init=k_in, recurrent_kernel_init=orthogonal(1.0))


class MLP(nn.Module):
    """x (..., in) -> (..., hidden_sizes[-1]) with the activation after every layer.

    `feature_norm`: LayerNorm on the input first (the MAPPO codebase's `use_feature_normalization`).
    `hidden_norm`: LayerNorm after every layer's activation (the MAPPO codebase's `MLPLayer`: Linear -> activation
    -> LayerNorm, which the AgentMixer authors' code builds every actor and critic from: LiZhYun/
    BackPropagationThroughAgents bta/algorithms/utils/mlp.py @ ecc9a14; MAT-Dec's actor has it too)."""

    hidden_sizes: Sequence[int]
    activation: str = "relu"
    weight_init: str = "normal"
    feature_norm: bool = False
    hidden_norm: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if self.feature_norm:
            x = nn.LayerNorm()(x)
        for size in self.hidden_sizes:
            x = ACTIVATIONS[self.activation](dense(size, init=self.weight_init)(x))
            if self.hidden_norm:
                x = nn.LayerNorm()(x)
        return x


@struct.dataclass
class ActorOutput:
    """Per-agent output of the individual actors."""

    head: Array  # discrete: (N, A) masked logits; continuous: (N, d) means
    feature: Array  # (N, H) the last hidden feature (an input of the Policy Modifier)


class _ActorCore(nn.Module):
    """One agent's actor: MLP torso -> optional GRU (-> optional Dense) -> policy head. x: (in,), h: (gru_size,)."""

    hidden_sizes: Sequence[int]
    activation: str
    action_dim: int
    recurrent: bool
    gru_size: int
    weight_init: str = "normal"
    feature_norm: bool = False
    gru_dense: bool = False
    hidden_norm: bool = False

    @nn.compact
    def __call__(self, h: Array, x: Array, reset: Array) -> tuple[Array, Array, Array]:
        feat = MLP(self.hidden_sizes, self.activation, self.weight_init, self.feature_norm, self.hidden_norm)(x)
        if self.recurrent:
            h = jnp.where(reset, jnp.zeros_like(h), h)
            h, feat = gru_cell(self.gru_size, self.weight_init)(h, feat)
            if self.gru_dense:
                feat = ACTIVATIONS[self.activation](dense(self.gru_size, init=self.weight_init, name="post_gru")(feat))
        head = dense(self.action_dim, gain=0.01, name="head", init=self.weight_init)(feat)
        return h, head, feat


class IndividualActors(nn.Module):
    """The N decentralised actors pi_i(a_i | o_i).

    Shared parameters with a one-hot agent id appended to the observation (default; `agent_id=False` leaves
    it out, as JaxMARL's MAPPO), or one set of parameters per agent (`share_params=False`, `nn.vmap` over the
    agent axis).

    Args of `__call__`:
        h:     (N, gru_size) recurrent state (ignored unless `recurrent`)
        obs:   (N, obs_dim)
        mask:  (N, A) bool action mask (discrete) or (N, d) bool dimension mask (continuous)
        reset: () bool, True at an episode start: the recurrent state is zeroed before use
    Returns (h', ActorOutput).
    """

    num_agents: int
    action_dim: int
    discrete: bool
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "relu"
    share_params: bool = True
    recurrent: bool = False
    gru_size: int = 64
    weight_init: str = "normal"
    feature_norm: bool = False
    gru_dense: bool = False
    agent_id: bool = True
    hidden_norm: bool = False

    def _core_kwargs(self) -> dict:
        return dict(hidden_sizes=self.hidden_sizes, activation=self.activation, action_dim=self.action_dim,
                    recurrent=self.recurrent, gru_size=self.gru_size, weight_init=self.weight_init,
                    feature_norm=self.feature_norm, gru_dense=self.gru_dense, hidden_norm=self.hidden_norm)

    def core_module(self) -> _ActorCore:
        """One agent's actor as a standalone module, to apply to one agent's parameters: `params["shared"]`, or
        `params["per_agent"]` indexed at the agent (its input then carries the one-hot id as `__call__` adds it).
        Sequential per-agent learners (HAPPO) run one agent at a time through it."""
        return _ActorCore(**self._core_kwargs(), parent=None)

    @nn.compact
    def __call__(self, h: Array, obs: Array, mask: Array, reset: Array) -> tuple[Array, ActorOutput]:
        core_kw = self._core_kwargs()
        if self.share_params:
            x = obs
            if self.agent_id:
                x = jnp.concatenate([obs, jnp.eye(self.num_agents, dtype=obs.dtype)], axis=-1)
            core = nn.vmap(_ActorCore, in_axes=(0, 0, None), out_axes=0, variable_axes={"params": None},
                           split_rngs={"params": False})(**core_kw, name="shared")
            h, head, feat = core(h, x, reset)
        else:
            core = nn.vmap(_ActorCore, in_axes=(0, 0, None), out_axes=0, variable_axes={"params": 0},
                           split_rngs={"params": True}, axis_size=self.num_agents)(**core_kw, name="per_agent")
            h, head, feat = core(h, obs, reset)
        if self.discrete:
            head = jnp.where(mask, head, -1e9)
        return h, ActorOutput(head=head, feature=feat)

    def initial_state(self) -> Array:
        return jnp.zeros((self.num_agents, self.gru_size), jnp.float32)


class Critic(nn.Module):
    """Per-agent values V_i from per-agent inputs x: (N, in) -> (N,).

    Centralised critics feed the global state with the agent id; local (IPPO) critics feed o_i.
    """

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "relu"
    weight_init: str = "normal"
    feature_norm: bool = False
    hidden_norm: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        feat = MLP(self.hidden_sizes, self.activation, self.weight_init, self.feature_norm, self.hidden_norm)(x)
        return dense(1, gain=1.0, init=self.weight_init)(feat)[..., 0]


class RecurrentCritic(nn.Module):
    """Per-agent values from a sequence: MLP -> GRU (-> Dense) -> V, as JaxMARL's MAPPO critic.

    h: (N, gru_size), x: (N, in), reset: () bool (zero the state first) -> (h', (N,))."""

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "relu"
    gru_size: int = 64
    weight_init: str = "normal"
    feature_norm: bool = False
    gru_dense: bool = False
    hidden_norm: bool = False

    @nn.compact
    def __call__(self, h: Array, x: Array, reset: Array) -> tuple[Array, Array]:
        feat = MLP(self.hidden_sizes, self.activation, self.weight_init, self.feature_norm, self.hidden_norm)(x)
        h = jnp.where(reset, jnp.zeros_like(h), h)
        h, feat = gru_cell(self.gru_size, self.weight_init)(h, feat)
        if self.gru_dense:
            feat = ACTIVATIONS[self.activation](dense(self.gru_size, init=self.weight_init, name="post_gru")(feat))
        return h, dense(1, gain=1.0, init=self.weight_init)(feat)[..., 0]


class LogStd(nn.Module):
    """A state-independent log standard deviation per action dimension (MAPPO / IPPO continuous)."""

    action_dim: int
    init_value: float = -0.5

    @nn.compact
    def __call__(self) -> Array:
        return self.param("log_std", nn.initializers.constant(self.init_value), (self.action_dim,))
