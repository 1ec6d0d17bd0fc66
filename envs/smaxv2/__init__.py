"""SMACv2 stand-in in pure JAX: randomised per-race teams, random starts, sight-limited observation.

Modules: `units` (the unit table and its sources), `scenarios` (params, team and start-position
generation), `simulation` (the continuous 2D battle), `observations` (masks, observations, state),
`opponent` (the scripted enemy AI and a focus-fire baseline), `env` (`SMAXv2`).
Registered tasks: `{protoss,terran,zerg}_{5v5,10v10,20v20,10v11,20v23}`.
"""

from envs.smaxv2.env import SMAXState, SMAXv2, make_scenario
from envs.smaxv2.opponent import focus_fire_actions, opponent_commands
from envs.smaxv2.scenarios import Scenario, SMAXParams, default_params
from envs.smaxv2.simulation import Commands, Units, init_units
from envs.smaxv2.units import RACES, UNIT_NAMES, UnitStats, default_unit_stats


def _factory(race: str, n_allies: int, n_enemies: int):
    def make(**kwargs) -> SMAXv2:
        return make_scenario(race, n_allies, n_enemies, **kwargs)

    make.__name__ = make.__qualname__ = f"{race}_{n_allies}v{n_enemies}"
    make.__doc__ = f"SMACv2-like {race} {n_allies} vs {n_enemies} (kwargs: n_substeps)."
    return make


protoss_5v5 = _factory("protoss", 5, 5)
protoss_10v10 = _factory("protoss", 10, 10)
protoss_20v20 = _factory("protoss", 20, 20)
protoss_10v11 = _factory("protoss", 10, 11)
protoss_20v23 = _factory("protoss", 20, 23)
terran_5v5 = _factory("terran", 5, 5)
terran_10v10 = _factory("terran", 10, 10)
terran_20v20 = _factory("terran", 20, 20)
terran_10v11 = _factory("terran", 10, 11)
terran_20v23 = _factory("terran", 20, 23)
zerg_5v5 = _factory("zerg", 5, 5)
zerg_10v10 = _factory("zerg", 10, 10)
zerg_20v20 = _factory("zerg", 20, 20)
zerg_10v11 = _factory("zerg", 10, 11)
zerg_20v23 = _factory("zerg", 20, 23)

SCENARIOS = tuple(f"{race}_{size}" for race in RACES for size in ("5v5", "10v10", "20v20", "10v11", "20v23"))

__all__ = [
    "RACES",
    "SCENARIOS",
    "UNIT_NAMES",
    "Commands",
    "SMAXParams",
    "SMAXState",
    "SMAXv2",
    "Scenario",
    "UnitStats",
    "Units",
    "default_params",
    "default_unit_stats",
    "focus_fire_actions",
    "init_units",
    "make_scenario",
    "opponent_commands",
    *SCENARIOS,
]
