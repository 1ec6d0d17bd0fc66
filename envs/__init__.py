"""Pure-JAX multi-agent environments. Imports nothing from `agentmixer_jax`."""

from envs.core import Box, Discrete, EnvSpec, MultiAgentEnv, TimeStep, check_action
from envs.registry import make, register, registered_tasks
from envs.wrappers import AutoReset, EpisodeStats, Wrapper


def make_wrapped(name: str, **kwargs) -> MultiAgentEnv:
    """`make(name)` with auto-reset and episode statistics, as the trainers use it."""
    return EpisodeStats(AutoReset(make(name, **kwargs)))


__all__ = [
    "AutoReset",
    "Box",
    "Discrete",
    "EnvSpec",
    "EpisodeStats",
    "MultiAgentEnv",
    "TimeStep",
    "Wrapper",
    "check_action",
    "make",
    "make_wrapped",
    "register",
    "registered_tasks",
]
