"""Action masks, per-agent observations and the global state, laid out as in SMACv2.

Actions (per agent, `num_actions = 6 + max(n_allies, n_enemies)`):
    0 no-op (available only to dead units, and then the only one), 1 stop, 2 north (+y), 3 south,
    4 east (+x), 5 west, 6 + j attack enemy j (healer: heal ally j).
A move is available when the point `move_amount` away stays on the map; attack j when enemy j is
alive, within `max(attack_range, min_attack_range)` (centre to centre) and reachable by the weapon
(ground-only weapons never target air units); heal j (medivac) when ally j != self is alive,
biological and within `max(heal range, min_attack_range)`.

Observation of agent i (zeros when i is dead), `sb` = 1 shield feature for protoss, else 0:
    move feasibility (4)
    per enemy j (n_enemies x (4 + 1 + sb + 3)): attackable, distance, dx, dy (divided by i's sight
        range), health / max, [shield / max], unit-type one-hot; zeros unless alive and within sight
    per other ally (n_allies - 1, same layout; first feature: visible)
    own: health / max, [shield / max], x / map, y / map, unit-type one-hot
Global state: per ally (health, weapon cooldown or medivac energy, x and y relative to the centre
divided by half the map, [shield], type bits), per enemy (health, x, y, [shield], type bits), dead
units all zeros, then the last action of every agent one-hot.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from envs.core import Array
from envs.smaxv2.scenarios import Scenario, SMAXParams, static_widths
from envs.smaxv2.simulation import Units
from envs.smaxv2.units import BIOLOGICAL, stats_of

NOOP, STOP, NORTH, SOUTH, EAST, WEST = range(6)
NUM_NON_TARGET_ACTIONS = 6
MOVE_DIRECTIONS = np.array([[0.0, 1.0], [0.0, -1.0], [1.0, 0.0], [-1.0, 0.0]], np.float32)


def _dist(a: Array, b: Array) -> Array:
    diff = b[None, :, :] - a[:, None, :]
    return jnp.sqrt(jnp.sum(diff * diff, -1)), diff


def move_feasible(units: Units, scenario: Scenario, params: SMAXParams) -> Array:
    """(n_allies, 4) bool: north, south, east, west keep the unit on the map."""
    pos = units.pos[: scenario.n_allies]
    dest = pos[:, None, :] + params.move_amount * MOVE_DIRECTIONS[None]
    return jnp.all((dest >= 0.0) & (dest <= params.map_size), axis=-1)


def target_availability(units: Units, scenario: Scenario, params: SMAXParams) -> Array:
    """(n_allies, max(n_allies, n_enemies)) bool: attack / heal target j is available."""
    A, E = scenario.n_allies, scenario.n_enemies
    T = max(A, E)
    s = stats_of(params.units, units.type)
    healer = (s.heal_rate > 0)[:A]
    rng = jnp.maximum(s.attack_range, params.min_attack_range)[:A]
    d_ae, _ = _dist(units.pos[:A], units.pos[A:])
    can_hit = s.hits_air[:A, None] | ~s.is_air[None, A:]
    attack = units.alive[None, A:] & (d_ae <= rng[:, None]) & can_hit & ~healer[:, None]
    d_aa, _ = _dist(units.pos[:A], units.pos[:A])
    bio = (s.attributes[:A] & BIOLOGICAL) != 0
    heal = (
        units.alive[None, :A]
        & bio[None, :]
        & ~np.eye(A, dtype=bool)
        & (d_aa <= rng[:, None])
        & healer[:, None]
    )
    out = jnp.zeros((A, T), bool)
    out = out.at[:, :E].set(attack)
    out = out.at[:, :A].set(out[:, :A] | heal)
    return out


def action_mask(units: Units, scenario: Scenario, params: SMAXParams) -> Array:
    """(n_allies, num_actions) bool, True = available (see module docstring)."""
    alive = units.alive[: scenario.n_allies]
    a = alive[:, None]
    return jnp.concatenate(
        [
            ~a,
            a,
            move_feasible(units, scenario, params) & a,
            target_availability(units, scenario, params) & a,
        ],
        axis=1,
    )


def _local_type_onehot(units: Units, scenario: Scenario) -> Array:
    local = units.type - scenario.race_types[0]
    return (local[:, None] == jnp.arange(3)[None, :]).astype(jnp.float32)


def _health_feats(units: Units, params: SMAXParams, shield_bits: int) -> Array:
    s = stats_of(params.units, units.type)
    feats = [units.hp / s.hp]
    if shield_bits:
        feats.append(units.shield / jnp.maximum(s.shield, 1.0))
    return jnp.stack(feats, axis=-1)


def obs_dim(scenario: Scenario) -> int:
    w = static_widths(scenario)
    unit = 4 + 1 + w["shield_bits"] + w["type_bits"]
    own = 1 + w["shield_bits"] + 2 + w["type_bits"]
    return 4 + scenario.n_enemies * unit + (scenario.n_allies - 1) * unit + own


def state_dim(scenario: Scenario) -> int:
    w = static_widths(scenario)
    ally = 4 + w["shield_bits"] + w["type_bits"]
    enemy = 3 + w["shield_bits"] + w["type_bits"]
    return scenario.n_allies * (ally + w["num_actions"]) + scenario.n_enemies * enemy


def get_obs(units: Units, scenario: Scenario, params: SMAXParams) -> Array:
    """(n_allies, obs_dim) float32 partial observations (see module docstring)."""
    A, E = scenario.n_allies, scenario.n_enemies
    sb = static_widths(scenario)["shield_bits"]
    s = stats_of(params.units, units.type)
    me_alive = units.alive[:A]
    sight = s.sight_range[:A]
    health = _health_feats(units, params, sb)  # (U, 1 + sb)
    types = _local_type_onehot(units, scenario)  # (U, 3)

    def unit_feats(first, others: slice | np.ndarray):
        if isinstance(others, slice):
            d, diff = _dist(units.pos[:A], units.pos[others])
            alive_o = units.alive[others][None, :]
            hf, tf = health[others][None], types[others][None]
        else:  # (A, A-1) index array of the other allies
            d, diff = _dist(units.pos[:A], units.pos[:A])
            d = jnp.take_along_axis(d, others, axis=1)
            diff = jnp.take_along_axis(diff, others[..., None], axis=1)
            alive_o = units.alive[others]
            hf, tf = health[others], types[others]
        visible = (d < sight[:, None]) & alive_o & me_alive[:, None]
        feats = jnp.concatenate(
            [
                first[..., None],
                (d / sight[:, None])[..., None],
                diff / sight[:, None, None],
                jnp.broadcast_to(hf, d.shape + hf.shape[-1:]),
                jnp.broadcast_to(tf, d.shape + (3,)),
            ],
            axis=-1,
        )
        return jnp.where(visible[..., None], feats, 0.0).reshape(A, -1)

    targets = target_availability(units, scenario, params)
    enemy = unit_feats(targets[:, :E].astype(jnp.float32), slice(A, A + E))
    others = np.array([[j for j in range(A) if j != i] for i in range(A)], np.int32).reshape(A, A - 1)
    if A > 1:
        ally = unit_feats(jnp.ones((A, A - 1), jnp.float32), others)
    else:
        ally = jnp.zeros((A, 0), jnp.float32)
    own = jnp.concatenate([health[:A], units.pos[:A] / params.map_size, types[:A]], axis=-1)
    move = move_feasible(units, scenario, params).astype(jnp.float32)
    obs = jnp.concatenate([move, enemy, ally, own], axis=-1)
    return jnp.where(me_alive[:, None], obs, 0.0).astype(jnp.float32)


def get_state(units: Units, last_action: Array, scenario: Scenario, params: SMAXParams) -> Array:
    """(state_dim,) float32 global state (see module docstring)."""
    A = scenario.n_allies
    w = static_widths(scenario)
    s = stats_of(params.units, units.type)
    health = _health_feats(units, params, w["shield_bits"])
    types = _local_type_onehot(units, scenario)
    half = params.map_size / 2
    rel = (units.pos - half) / half
    hp = health[:, :1]
    shield = health[:, 1:]
    cd = jnp.where(
        s.energy_max > 0,
        units.energy / jnp.maximum(s.energy_max, 1.0),
        jnp.clip(units.cooldown / jnp.maximum(s.cooldown, 1e-3), 0.0, 1.0),
    )[:, None]
    ally = jnp.concatenate([hp[:A], cd[:A], rel[:A], shield[:A], types[:A]], axis=-1)
    enemy = jnp.concatenate([hp[A:], rel[A:], shield[A:], types[A:]], axis=-1)
    ally = jnp.where(units.alive[:A, None], ally, 0.0)
    enemy = jnp.where(units.alive[A:, None], enemy, 0.0)
    last = (last_action[:, None] == jnp.arange(w["num_actions"])[None, :]).astype(jnp.float32)
    return jnp.concatenate([ally.ravel(), enemy.ravel(), last.ravel()]).astype(jnp.float32)
