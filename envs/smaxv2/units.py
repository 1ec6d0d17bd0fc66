# ruff: noqa: E501  (the unit table is one row per unit, wider than the line limit)
"""Unit types of the SMACv2 stand-in and their StarCraft II figures.

Nine unit types, three per race, as in SMACv2's `10gen_{race}` maps (oxwhirl/smacv2,
`smacv2/examples/configs/sc2_gen_{protoss,terran,zerg}.yaml`): protoss stalker / zealot / colossus,
terran marine / marauder / medivac, zerg zergling / hydralisk / baneling, drawn with probabilities
0.45 / 0.45 / 0.10, medivac and baneling being "exception" types that may not make up a whole team.

Figures are StarCraft II: Legacy of the Void multiplayer values without upgrades (patch 5.0.x), with
times in real seconds at "Faster" game speed (22.4 game loops per second). Sources:
  - Liquipedia, https://liquipedia.net/starcraft2/<Unit>_(Legacy_of_the_Void) (hit points, shields,
    armour, attributes, damage and bonus, cooldown, range, speed), and
    https://liquipedia.net/starcraft2/Plasma_Shield (shields absorb first with the unit's attributes,
    recharge 2 per game second = 2.8 /s after 10 game s = 7.14 s without damage);
  - shiar.nl LotV unit sheet, http://sheet.shiar.nl/sc/lotv (patch 5.0.11: hp, shields, range, sight,
    speed), used to cross-check;
  - SMACv2 `starcraft2.py` (`unit_sight_range`, `unit_shoot_range`): the same sight ranges
    (stalker 10, zealot 9, colossus 10, zergling 8, baneling 8, hydralisk 9, marine 9, marauder 10,
    medivac 11) and attack ranges, with `min_attack_range = 2` for action availability.
Unit radii are the game's footprint radii (marine 0.375, zealot 0.5, stalker / hydralisk 0.625,
marauder 0.5625, medivac 0.75, colossus 1.0, zergling / baneling 0.375).

Simplifications (documented here once): the colossus' Thermal Lances line splash is a segment of
half-length `line_splash` through the target, perpendicular to the shot; the baneling explodes on
its attack (never on death) and dies; the medivac heals biological allies at 12.6 hp/s for 1 energy
per 3 hp (50 starting energy, 200 max, 0.7875 energy/s regeneration); zerg regenerate 0.38 hp/s.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Array

# Global unit-type ids (the order of the table below).
STALKER, ZEALOT, COLOSSUS, MARINE, MARAUDER, MEDIVAC, ZERGLING, HYDRALISK, BANELING = range(9)
NUM_TYPES = 9
UNIT_NAMES = (
    "stalker",
    "zealot",
    "colossus",
    "marine",
    "marauder",
    "medivac",
    "zergling",
    "hydralisk",
    "baneling",
)

# Per race: the three global type ids, in the order of the type bits and of RACE_WEIGHTS.
RACES: dict[str, tuple[int, int, int]] = {
    "protoss": (STALKER, ZEALOT, COLOSSUS),
    "terran": (MARINE, MARAUDER, MEDIVAC),
    "zerg": (ZERGLING, HYDRALISK, BANELING),
}
RACE_WEIGHTS = (0.45, 0.45, 0.10)  # SMACv2 weighted_teams
TYPES_PER_RACE = 3

# Attribute bits.
ARMORED, LIGHT, BIOLOGICAL, MECHANICAL, MASSIVE = 1, 2, 4, 8, 16
A, L, B, M, X = ARMORED, LIGHT, BIOLOGICAL, MECHANICAL, MASSIVE

# fmt: off
# name:      hp, shld, arm, attributes, dmg, hits, bonus, bonus_vs, cooldown, range, sight, speed, radius,
#            hits_air, is_air, line_splash, explode_r, heal_rate, energy_max, energy_start, hp_regen, exception
_TABLE = {
    "stalker":   (80,  80, 1, A | M,     13, 1,  5, A, 1.34,  6.0, 10, 4.13, 0.625,  1, 0, 0.0, 0.0, 0.0,  0,  0, 0.0,  0),
    "zealot":    (100, 50, 1, L | B,      8, 2,  0, 0, 0.86,  0.1,  9, 3.15, 0.5,    0, 0, 0.0, 0.0, 0.0,  0,  0, 0.0,  0),
    "colossus":  (200, 150, 1, A | M | X, 10, 2,  5, L, 1.07,  7.0, 10, 3.15, 1.0,    0, 0, 1.4, 0.0, 0.0,  0,  0, 0.0,  0),
    "marine":    (45,   0, 0, L | B,      6, 1,  0, 0, 0.61,  5.0,  9, 3.15, 0.375,  1, 0, 0.0, 0.0, 0.0,  0,  0, 0.0,  0),
    "marauder":  (125,  0, 1, A | B,     10, 1, 10, A, 1.07,  6.0, 10, 3.15, 0.5625, 0, 0, 0.0, 0.0, 0.0,  0,  0, 0.0,  0),
    "medivac":   (150,  0, 1, A | M,      0, 0,  0, 0, 0.0,   4.0, 11, 3.5,  0.75,   0, 1, 0.0, 0.0, 12.6, 200, 50, 0.0,  1),
    "zergling":  (35,   0, 0, L | B,      5, 1,  0, 0, 0.497, 0.1,  8, 4.13, 0.375,  0, 0, 0.0, 0.0, 0.0,  0,  0, 0.38, 0),
    "hydralisk": (90,   0, 0, L | B,     12, 1,  0, 0, 0.59,  5.0,  9, 3.15, 0.625,  1, 0, 0.0, 0.0, 0.0,  0,  0, 0.38, 0),
    "baneling":  (30,   0, 0, B,         16, 1, 19, L, 0.0,   0.25, 8, 3.5,  0.375,  0, 0, 0.0, 2.2, 0.0,  0,  0, 0.38, 1),
}
# fmt: on
_FIELDS = (
    "hp",
    "shield",
    "armor",
    "attributes",
    "damage",
    "hits",
    "bonus",
    "bonus_vs",
    "cooldown",
    "attack_range",
    "sight_range",
    "speed",
    "radius",
    "hits_air",
    "is_air",
    "line_splash",
    "explode_radius",
    "heal_rate",
    "energy_max",
    "energy_start",
    "hp_regen",
    "exception",
)
_INT_FIELDS = ("attributes", "hits", "bonus_vs")
_BOOL_FIELDS = ("hits_air", "is_air", "exception")


@struct.dataclass
class UnitStats:
    """The unit table as arrays of shape `(NUM_TYPES,)`: a pytree leaf of the env params (sweepable).

    hp / shield: maxima; armor: hp armour (shield armour is 0); attributes: bit set of
    ARMORED | LIGHT | BIOLOGICAL | MECHANICAL | MASSIVE; damage per hit, `hits` hits per attack,
    `bonus` extra per hit against units with any attribute in `bonus_vs`; cooldown (s) between
    attacks; attack_range (edge to edge, as in the game) and sight_range; speed (/s); radius;
    hits_air: the weapon can target air units; is_air: the unit flies (no collision, only anti-air
    weapons reach it); line_splash: half-length of the colossus' line splash; explode_radius: the
    baneling's explosion (suicide) radius; heal_rate (hp/s) > 0 marks a healer (no weapon);
    energy_max / energy_start; hp_regen (hp/s, zerg); exception: may not make up a whole team.
    """

    hp: Array
    shield: Array
    armor: Array
    attributes: Array
    damage: Array
    hits: Array
    bonus: Array
    bonus_vs: Array
    cooldown: Array
    attack_range: Array
    sight_range: Array
    speed: Array
    radius: Array
    hits_air: Array
    is_air: Array
    line_splash: Array
    explode_radius: Array
    heal_rate: Array
    energy_max: Array
    energy_start: Array
    hp_regen: Array
    exception: Array


def default_unit_stats() -> UnitStats:
    """The LotV table above as a `UnitStats` pytree."""
    cols = np.array([_TABLE[name] for name in UNIT_NAMES], dtype=np.float64).T
    fields = {}
    for name, col in zip(_FIELDS, cols, strict=True):
        if name in _INT_FIELDS:
            fields[name] = jnp.asarray(col, jnp.int32)
        elif name in _BOOL_FIELDS:
            fields[name] = jnp.asarray(col > 0)
        else:
            fields[name] = jnp.asarray(col, jnp.float32)
    return UnitStats(**fields)


def stats_of(table: UnitStats, types: Array) -> UnitStats:
    """Gather the table rows of `types` (any shape): every field gets the shape of `types`."""
    return table.replace(**{name: getattr(table, name)[types] for name in _FIELDS})


# Constants shared by all protoss / medivac units (Liquipedia: Plasma Shield, Medivac).
SHIELD_REGEN_RATE = 2.8  # shields per real second (2 per game second at Faster)
SHIELD_REGEN_DELAY = 7.14  # real seconds without damage before shields recharge (10 game seconds)
ENERGY_REGEN = 0.7875  # energy per real second
HEAL_ENERGY_PER_HP = 1.0 / 3.0  # medivac: 1 energy per 3 hp healed
