"""Scripted policies: the enemy's built-in-AI stand-in, and a focus-fire baseline for our team.

`opponent_commands` (the enemy team, in the spirit of the game's built-in AI): every agent step each
enemy attack-moves on the closest of our units its weapon can reach (walking into range, then
firing); a medivac heals the closest damaged biological teammate, otherwise follows the closest
teammate that fights. It is deterministic: the key is accepted for API symmetry and unused.

`focus_fire_actions` (our team, for tests and as a sanity baseline): every unit that can attack
shoots the available enemy with the least health + shields; otherwise it walks towards the closest
enemy; a medivac heals the available ally with the lowest health fraction, otherwise follows the
closest fighting ally. It uses only legal actions.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from envs.core import Array, PRNGKey
from envs.smaxv2.observations import (
    EAST,
    MOVE_DIRECTIONS,
    NOOP,
    NORTH,
    NUM_NON_TARGET_ACTIONS,
    SOUTH,
    STOP,
    WEST,
    action_mask,
)
from envs.smaxv2.scenarios import Scenario, SMAXParams
from envs.smaxv2.simulation import IDLE, MOVE, TARGET, Commands, Units
from envs.smaxv2.units import BIOLOGICAL, stats_of

_FOLLOW_DISTANCE = 2.0


def _pair_dist(a: Array, b: Array) -> Array:
    diff = b[None, :, :] - a[:, None, :]
    return jnp.sqrt(jnp.sum(diff * diff, -1))


def _closest(d: Array, valid: Array) -> tuple[Array, Array]:
    masked = jnp.where(valid, d, jnp.inf)
    return jnp.argmin(masked, axis=-1).astype(jnp.int32), jnp.any(valid, axis=-1)


def opponent_commands(key: PRNGKey, units: Units, scenario: Scenario, params: SMAXParams) -> Commands:
    """Commands `(n_enemies,)` of the scripted enemy team (global unit indices as targets)."""
    del key
    A, E = scenario.n_allies, scenario.n_enemies
    s = stats_of(params.units, units.type)
    healer = (s.heal_rate > 0)[A:]
    alive_e = units.alive[A:]
    pos_e = units.pos[A:]
    # fighters: the closest of our units they can hit
    d_ea = _pair_dist(pos_e, units.pos[:A])
    hittable = units.alive[None, :A] & (s.hits_air[A:, None] | ~s.is_air[None, :A])
    victim, has_victim = _closest(d_ea, hittable)
    # healers: the closest damaged biological teammate, else follow the closest fighter
    d_ee = _pair_dist(pos_e, pos_e)
    not_self = ~np.eye(E, dtype=bool)
    bio = (s.attributes[A:] & BIOLOGICAL) != 0
    damaged = alive_e & bio & (units.hp[A:] < s.hp[A:])
    patient, has_patient = _closest(d_ee, damaged[None, :] & not_self)
    buddy, has_buddy = _closest(d_ee, (alive_e & ~healer)[None, :] & not_self)
    to_buddy = pos_e[buddy] - pos_e
    far = jnp.sqrt(jnp.sum(to_buddy**2, -1)) > _FOLLOW_DISTANCE
    follow = healer & ~has_patient & has_buddy & far

    kind = jnp.where(healer, jnp.where(has_patient, TARGET, IDLE), jnp.where(has_victim, TARGET, IDLE))
    kind = jnp.where(follow, MOVE, kind)
    kind = jnp.where(alive_e, kind, IDLE).astype(jnp.int32)
    target = jnp.where(healer, A + patient, victim).astype(jnp.int32)
    direction = to_buddy / jnp.maximum(jnp.sqrt(jnp.sum(to_buddy**2, -1, keepdims=True)), 1e-6)
    return Commands(kind=kind, direction=jnp.where(follow[:, None], direction, 0.0), target=target)


def _move_towards(delta: Array, mask: Array) -> Array:
    """(N,) action: the feasible cardinal move best aligned with `delta` (N, 2), else stop."""
    score = delta @ MOVE_DIRECTIONS.T  # (N, 4): north, south, east, west
    moves = jnp.array([NORTH, SOUTH, EAST, WEST])
    feasible = mask[:, moves]
    best = jnp.argmax(jnp.where(feasible, score, -jnp.inf), axis=-1)
    ok = jnp.any(feasible & (score > 0), axis=-1)
    return jnp.where(ok, moves[best], STOP)


def focus_fire_actions(units: Units, scenario: Scenario, params: SMAXParams) -> Array:
    """(n_allies,) int32 legal actions of the focus-fire baseline (see module docstring)."""
    A, E = scenario.n_allies, scenario.n_enemies
    K = NUM_NON_TARGET_ACTIONS
    s = stats_of(params.units, units.type)
    mask = action_mask(units, scenario, params)
    alive_a = units.alive[:A]
    healer = (s.heal_rate > 0)[:A]

    # fighters: the weakest enemy in range, else walk to the closest enemy they can hit
    can_attack = mask[:, K : K + E]
    enemy_hp = units.hp[A:] + units.shield[A:]
    weakest = jnp.argmin(jnp.where(can_attack, enemy_hp[None, :], jnp.inf), axis=-1)
    d_ae = _pair_dist(units.pos[:A], units.pos[A:])
    hittable = units.alive[None, A:] & (s.hits_air[:A, None] | ~s.is_air[None, A:])
    nearest, has_enemy = _closest(d_ae, hittable)
    approach = _move_towards(units.pos[A:][nearest] - units.pos[:A], mask)
    fighter = jnp.where(jnp.any(can_attack, -1), K + weakest, jnp.where(has_enemy, approach, STOP))

    # healers: the lowest-health ally in range, else follow the closest fighting ally
    can_heal = mask[:, K : K + A]
    frac = units.hp[:A] / s.hp[:A]
    patient = jnp.argmin(jnp.where(can_heal, frac[None, :], jnp.inf), axis=-1)
    d_aa = _pair_dist(units.pos[:A], units.pos[:A])
    buddy, has_buddy = _closest(d_aa, (alive_a & ~healer)[None, :] & ~np.eye(A, dtype=bool))
    to_buddy = units.pos[:A][buddy] - units.pos[:A]
    far = jnp.sqrt(jnp.sum(to_buddy**2, -1)) > _FOLLOW_DISTANCE
    follow = jnp.where(has_buddy & far, _move_towards(to_buddy, mask), STOP)
    medic = jnp.where(jnp.any(can_heal & (frac[None, :] < 1.0), -1), K + patient, follow)

    action = jnp.where(healer, medic, fighter)
    return jnp.where(alive_a, action, NOOP).astype(jnp.int32)
