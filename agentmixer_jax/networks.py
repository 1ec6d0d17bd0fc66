"""Individual actors and critics (flax.linen).

Every module here works on ONE joint observation of N agents, with agents as the leading axis; the
caller vmaps over environments and time. Initialisation follows MAPPO's gains (Yu et al. 2022):
sqrt(2) in hidden layers, 0.01 on the policy head, 1 on the value head, as the standard deviation
scale of a fan-in truncated normal. (MAPPO uses orthogonal matrices; on jaxlib 0.10 CPU, several
batched QR decompositions in one jit with >= 256 seeds never finish, so `train` must not vmap an
orthogonal initialiser over thousands of seeds.)
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


def dense(features: int, gain: float = np.sqrt(np.float32(2.0)), name: str | None = None) -> nn.Dense:
    kernel_init = nn.initializers.variance_scaling(gain**2, "fan_in", "truncated_normal")
    return nn.Dense(features, kernel_init=kernel_init, bias_init=nn.initializers.zeros, name=name)


class MLP(nn.Module):
    """x (..., in) -> (..., hidden_sizes[-1]) with the activation after every layer."""

    hidden_sizes: Sequence[int]
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        for size in self.hidden_sizes:
            x = ACTIVATIONS[self.activation](dense(size)(x))
        return x


@struct.dataclass
class ActorOutput:
    """Per-agent output of the individual actors."""

    head: Array  # discrete: (N, A) masked logits; continuous: (N, d) means
    feature: Array  # (N, H) the last hidden feature (an input of the Policy Modifier)


class _ActorCore(nn.Module):
    """One agent's actor: MLP torso -> optional GRU -> policy head. x: (in,), h: (gru_size,)."""

    hidden_sizes: Sequence[int]
    activation: str
    action_dim: int
    recurrent: bool
    gru_size: int

    @nn.compact
    def __call__(self, h: Array, x: Array, reset: Array) -> tuple[Array, Array, Array]:
        feat = MLP(self.hidden_sizes, self.activation)(x)
        if self.recurrent:
            h = jnp.where(reset, jnp.zeros_like(h), h)
            h, feat = nn.GRUCell(self.gru_size)(h, feat)
        head = dense(self.action_dim, gain=0.01, name="head")(feat)
        return h, head, feat


class IndividualActors(nn.Module):
    """The N decentralised actors pi_i(a_i | o_i).

    Shared parameters with a one-hot agent id appended to the observation (default), or one set of
    parameters per agent (`share_params=False`, `nn.vmap` over the agent axis).

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

    @nn.compact
    def __call__(self, h: Array, obs: Array, mask: Array, reset: Array) -> tuple[Array, ActorOutput]:
        core_kw = dict(hidden_sizes=self.hidden_sizes, activation=self.activation, action_dim=self.action_dim,
                       recurrent=self.recurrent, gru_size=self.gru_size)
        if self.share_params:
            ids = jnp.eye(self.num_agents, dtype=obs.dtype)
            core = nn.vmap(_ActorCore, in_axes=(0, 0, None), out_axes=0, variable_axes={"params": None},
                           split_rngs={"params": False})(**core_kw, name="shared")
            h, head, feat = core(h, jnp.concatenate([obs, ids], axis=-1), reset)
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

    @nn.compact
    def __call__(self, x: Array) -> Array:
        return dense(1, gain=1.0)(MLP(self.hidden_sizes, self.activation)(x))[..., 0]


class LogStd(nn.Module):
    """A state-independent log standard deviation per action dimension (MAPPO / IPPO continuous)."""

    action_dim: int
    init_value: float = -0.5

    @nn.compact
    def __call__(self) -> Array:
        return self.param("log_std", nn.initializers.constant(self.init_value), (self.action_dim,))
