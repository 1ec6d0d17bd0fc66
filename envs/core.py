"""The multi-agent environment API shared by every task in `envs/`.

Agents are a leading array axis (never a dict of names). One `MultiAgentEnv` instance describes one
episode of one environment; batching is done by the caller with `jax.vmap`, and environment settings
live in a `params` pytree so that they too can be vmapped or swept (as in gymnax).

Shapes (N = number of agents):

    obs:          (N, obs_dim)   float32  each agent's own partial observation, padded to one width
    state:        (state_dim,)   float32  the global state (centralised critics, the Policy Modifier)
    action_mask:  discrete   (N, num_actions) bool, True = the action is available
                  continuous (N, act_dim)     bool, True = this action dimension belongs to the agent
    reward:       (N,)           float32  cooperative tasks repeat the team reward
    terminated:   ()             bool     the episode ended inside the task: do not bootstrap
    truncated:    ()             bool     time limit: bootstrap from the final observation
    info:         dict of fixed-structure scalars, e.g. {"won": bool}

Discrete actions are `(N,)` int32; continuous actions are `(N, act_dim)` float32 in [-1, 1], with
padded dimensions ignored by the environment.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, TypeVar

import jax
import jax.numpy as jnp
from flax import struct

Array = jax.Array
PRNGKey = jax.Array

EnvState = TypeVar("EnvState")
EnvParams = TypeVar("EnvParams")


@dataclasses.dataclass(frozen=True)
class Discrete:
    """`num_actions` choices per agent; actions are `(N,)` int32."""

    num_actions: int

    def __post_init__(self):
        if self.num_actions < 1:
            raise ValueError(f"Discrete.num_actions must be >= 1, got {self.num_actions}")


@dataclasses.dataclass(frozen=True)
class Box:
    """`act_dim` real dimensions per agent (padded to the widest agent); actions are `(N, act_dim)`."""

    low: float
    high: float
    act_dim: int

    def __post_init__(self):
        if self.act_dim < 1:
            raise ValueError(f"Box.act_dim must be >= 1, got {self.act_dim}")
        if not self.low < self.high:
            raise ValueError(f"Box needs low < high, got low={self.low}, high={self.high}")


ActionSpace = Discrete | Box


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """Static description of an environment: hashable, so it can drive network shapes under jit."""

    num_agents: int
    obs_dim: int
    state_dim: int
    action_space: ActionSpace
    agent_names: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.agent_names:
            object.__setattr__(self, "agent_names", tuple(f"agent_{i}" for i in range(self.num_agents)))
        if len(self.agent_names) != self.num_agents:
            raise ValueError(
                f"EnvSpec.agent_names has {len(self.agent_names)} names for {self.num_agents} agents"
            )
        for field in ("num_agents", "obs_dim", "state_dim"):
            if getattr(self, field) < 1:
                raise ValueError(f"EnvSpec.{field} must be >= 1, got {getattr(self, field)}")

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, Discrete)

    @property
    def action_dim(self) -> int:
        """Width of one agent's action head: num_actions (discrete) or act_dim (continuous)."""
        if isinstance(self.action_space, Discrete):
            return self.action_space.num_actions
        return self.action_space.act_dim

    def action_shape(self) -> tuple[int, ...]:
        """Shape of one joint action: `(N,)` discrete, `(N, act_dim)` continuous."""
        if self.discrete:
            return (self.num_agents,)
        return (self.num_agents, self.action_dim)


@struct.dataclass
class TimeStep:
    """What the environment returns after `reset` and after each `step` (see module docstring)."""

    obs: Array  # (N, obs_dim) float32
    state: Array  # (state_dim,) float32
    action_mask: Array  # (N, num_actions) or (N, act_dim) bool
    reward: Array  # (N,) float32
    terminated: Array  # () bool
    truncated: Array  # () bool
    info: dict[str, Any]  # fixed-structure scalars

    @property
    def done(self) -> Array:
        """() bool: the episode is over, for either reason."""
        return jnp.logical_or(self.terminated, self.truncated)


class MultiAgentEnv(Generic[EnvState, EnvParams]):
    """Base class of every environment: subclasses set `num_agents` and implement the four methods."""

    num_agents: int

    def default_params(self) -> EnvParams:
        raise NotImplementedError

    def spec(self, params: EnvParams) -> EnvSpec:
        raise NotImplementedError

    def reset(self, key: PRNGKey, params: EnvParams) -> tuple[EnvState, TimeStep]:
        raise NotImplementedError

    def step(
        self, key: PRNGKey, state: EnvState, action: Array, params: EnvParams
    ) -> tuple[EnvState, TimeStep]:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__


def check_action(spec: EnvSpec, action: Array) -> None:
    """Raise a clear error (at trace time) when a joint action has the wrong shape."""
    want = spec.action_shape()
    if tuple(action.shape) != want:
        kind = "discrete (N,) int32" if spec.discrete else "continuous (N, act_dim) float32"
        raise ValueError(f"action has shape {tuple(action.shape)}, expected {want} ({kind} joint action)")
