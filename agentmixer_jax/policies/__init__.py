"""What acts: the individual actors with their critic, and the joint policies built on them.

One class per algorithm family, each an `ActorCritic` (see `base.py` for the interface the acting loop and
the learners use). Which class an algorithm name uses is `agentmixer_jax.registry`'s business; the choice is
static (Python), never a `lax.cond`.
"""

from agentmixer_jax.policies.agentmixer import AgentMixer, make_agentmixer
from agentmixer_jax.policies.ail import AIL
from agentmixer_jax.policies.base import ActorCritic, PolicyStep, SACSample
from agentmixer_jax.policies.happo import HAPPOPolicy
from agentmixer_jax.policies.mappo import IPPO, MAPPO
from agentmixer_jax.policies.masac import MASAC

__all__ = ["AIL", "ActorCritic", "AgentMixer", "make_agentmixer", "HAPPOPolicy", "IPPO", "MAPPO", "MASAC", "PolicyStep",
           "SACSample"]
