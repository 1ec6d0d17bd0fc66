"""MAPPO and IPPO (Yu et al. 2022, "The Surprising Effectiveness of PPO in Cooperative Multi-Agent Games";
de Witt et al. 2020, "Is Independent Learning All You Need in the StarCraft Multi-Agent Challenge?").

Both train the individual policies with per-agent clipped ratios. MAPPO's critic sees the global
state (centralised training, decentralised execution); IPPO's critic sees each agent's own observation.
"""

from __future__ import annotations

from agentmixer_jax.policies.base import ActorCritic


class MAPPO(ActorCritic):
    name = "mappo"
    centralised_critic = True


class IPPO(ActorCritic):
    name = "ippo"
    centralised_critic = False
