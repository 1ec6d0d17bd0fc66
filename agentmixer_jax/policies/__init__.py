"""On-policy algorithms on the shared runner. Chosen statically by name, never by `lax.cond`."""

from agentmixer_jax.algorithms.agentmixer import AgentMixer
from agentmixer_jax.algorithms.ail import AIL
from agentmixer_jax.algorithms.base import ActorCritic, PolicyStep
from agentmixer_jax.algorithms.mappo import IPPO, MAPPO

ALGORITHMS: dict[str, type[ActorCritic]] = {"agentmixer": AgentMixer, "mappo": MAPPO, "ippo": IPPO, "ail": AIL}


def make_algorithm(name: str, spec, config) -> ActorCritic:
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algo {name!r}; choose one of {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name](spec, config)


__all__ = ["AIL", "ALGORITHMS", "ActorCritic", "AgentMixer", "IPPO", "MAPPO", "PolicyStep", "make_algorithm"]
