"""Continuous 2D combat simulation: movement, separation, attacks, shields, splash, heals.

Units of both teams live on one array axis `U = n_allies + n_enemies` (allies first). One agent
step is `n_substeps` sub-steps of `params.step_seconds / n_substeps` seconds, run by `lax.scan`.
Every sub-step, vectorised over units (and unit pairs for damage and collisions):

1. commands: `MOVE` walks along `direction` at the unit's speed; `TARGET` attacks (or, for a healer,
   heals) unit `target`: out of reach the unit walks towards it (as a game attack order does), in
   reach (attack range + both radii, edge to edge as in the game) it fires when its weapon cooldown
   has run out; `IDLE` stands still. Orders on a dead target lapse.
2. damage: a hit deals `damage + bonus` (bonus if the victim has a `bonus_vs` attribute), `hits`
   times; shields absorb first (shield armour 0), the overflow loses the victim's armour per hit
   (at least 0.5 per hit). Colossus: every enemy ground unit on the splash line through the target;
   baneling: every enemy ground unit within `explode_radius`, and the baneling dies. Ground-only
   weapons cannot reach air units (medivac).
3. heals: healers restore `heal_rate * dt` hp to their target, paying energy.
4. regeneration: shields after `shield_regen_delay` s without damage, zerg hp, energy.
5. collisions: overlapping ground units are pushed apart; positions are clipped to the map.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Array
from envs.smaxv2.scenarios import SMAXParams
from envs.smaxv2.units import BIOLOGICAL, stats_of

IDLE, MOVE, TARGET = 0, 1, 2
_EPS = 1e-6


@struct.dataclass
class Units:
    """All units of both teams, `U = n_allies + n_enemies` (allies first).

    type (U,) int32 global unit type; pos (U, 2); hp, shield, energy (U,); cooldown (U,) seconds
    until the weapon is ready; since_hit (U,) seconds since the last damage; alive (U,) bool.
    """

    type: Array
    pos: Array
    hp: Array
    shield: Array
    energy: Array
    cooldown: Array
    since_hit: Array
    alive: Array


@struct.dataclass
class Commands:
    """One order per unit for a whole agent step: kind (U,) in {IDLE, MOVE, TARGET}, direction
    (U, 2) for MOVE (unit vector), target (U,) int32 global unit index for TARGET."""

    kind: Array
    direction: Array
    target: Array


def init_units(types: Array, pos: Array, params: SMAXParams) -> Units:
    s = stats_of(params.units, types)
    n = types.shape[0]
    return Units(
        type=types.astype(jnp.int32),
        pos=pos.astype(jnp.float32),
        hp=s.hp,
        shield=s.shield,
        energy=s.energy_start,
        cooldown=jnp.zeros((n,), jnp.float32),
        since_hit=jnp.full((n,), 1e3, jnp.float32),
        alive=jnp.ones((n,), bool),
    )


def team_ids(n_allies: int, n_enemies: int) -> np.ndarray:
    """(U,) static team index: 0 for allies, 1 for enemies."""
    return np.concatenate([np.zeros(n_allies, np.int32), np.ones(n_enemies, np.int32)])


def _norm(v: Array) -> Array:
    return jnp.sqrt(jnp.sum(v * v, axis=-1) + _EPS * _EPS)


def hit_damage(attacker_types: Array, victim_types: Array, params: SMAXParams) -> Array:
    """Damage per hit before armour, `(..., ...)` broadcast of attacker and victim types."""
    a = stats_of(params.units, attacker_types)
    v = stats_of(params.units, victim_types)
    bonus = jnp.where((v.attributes & a.bonus_vs) != 0, a.bonus, 0.0)
    return a.damage + bonus


def apply_damage(hp, shield, armor, raw, hits):
    """Apply `raw` total damage from `hits` hits to (hp, shield): shields absorb first, the overflow
    loses `armor` per overflowing hit (at least 0.5 per hit). Exact for one hit and for no shield."""
    to_shield = jnp.minimum(shield, raw)
    overflow = raw - to_shield
    k = jnp.clip(jnp.ceil(hits * overflow / jnp.maximum(raw, _EPS) - 1e-6), 1.0, jnp.maximum(hits, 1.0))
    to_hp = jnp.where(overflow > 0, jnp.maximum(overflow - armor * k, 0.5 * k), 0.0)
    return hp - to_hp, shield - to_shield


def substep(units: Units, cmd: Commands, team: np.ndarray, params: SMAXParams, dt: Array) -> Units:
    """Advance all units by `dt` seconds under fixed commands (see module docstring)."""
    table = params.units
    s = stats_of(table, units.type)
    alive = units.alive
    n = units.type.shape[0]
    healer = s.heal_rate > 0

    # --- orders --------------------------------------------------------------------------------
    tgt = cmd.target
    t_alive = alive[tgt]
    ordered = (cmd.kind == TARGET) & alive & t_alive
    delta = units.pos[tgt] - units.pos
    dist = _norm(delta)
    reach = s.attack_range + s.radius + s.radius[tgt]
    in_reach = dist <= reach
    chase = ordered & ~in_reach
    step_len = s.speed * dt
    chase_len = jnp.minimum(step_len, jnp.maximum(dist - reach + 0.05, 0.0))
    move = jnp.where(((cmd.kind == MOVE) & alive)[:, None], cmd.direction * step_len[:, None], 0.0)
    move = move + jnp.where(chase[:, None], delta / dist[:, None] * chase_len[:, None], 0.0)

    fire = ordered & in_reach & ~healer & (units.cooldown <= 0.0)
    same_team = jnp.asarray(team)[tgt] == jnp.asarray(team)
    target_bio = (stats_of(table, units.type[tgt]).attributes & BIOLOGICAL) != 0
    heal = ordered & in_reach & healer & same_team & target_bio & (tgt != jnp.arange(units.type.shape[0]))

    # --- damage matrix: attacker i -> victim j ---------------------------------------------------
    enemy = team[:, None] != team[None, :]
    reachable = jnp.logical_or(s.hits_air[:, None], ~s.is_air[None, :])
    eligible = enemy & reachable & alive[None, :]
    idx = jnp.arange(n)
    single = idx[None, :] == tgt[:, None]
    # colossus line splash: a segment through the target, perpendicular to the shot
    rel = units.pos[None, :, :] - units.pos[tgt][:, None, :]  # (i, j, 2) victim minus target
    shot = delta / dist[:, None]
    along = jnp.abs(jnp.sum(rel * shot[:, None, :], -1))
    across = jnp.abs(rel[..., 0] * shot[:, None, 1] - rel[..., 1] * shot[:, None, 0])
    on_line = (along <= s.radius[None, :]) & (across <= s.line_splash[:, None] + s.radius[None, :])
    line = (s.line_splash[:, None] > 0) & (single | on_line)
    # baneling explosion around the baneling itself
    d_ij = _norm(units.pos[None, :, :] - units.pos[:, None, :])
    blast = (s.explode_radius[:, None] > 0) & (d_ij <= s.explode_radius[:, None] + s.radius[None, :])
    splashy = (s.line_splash > 0) | (s.explode_radius > 0)
    struck = jnp.where(splashy[:, None], line | blast, single) & eligible & fire[:, None]
    per_hit = hit_damage(units.type[:, None], units.type[None, :], params)
    hits = jnp.where(struck, s.hits[:, None].astype(jnp.float32), 0.0)
    raw = jnp.sum(hits * per_hit, axis=0)
    n_hits = jnp.sum(hits, axis=0)
    hp, shield = apply_damage(units.hp, units.shield, s.armor, raw, n_hits)
    damaged = raw > 0

    # --- heals ---------------------------------------------------------------------------------
    heal_amt = jnp.where(heal, jnp.minimum(s.heal_rate * dt, units.energy / params.heal_energy_per_hp), 0.0)
    heal_in = jnp.zeros((n,), jnp.float32).at[tgt].add(heal_amt)
    room = s.hp - hp
    heal_in_clipped = jnp.minimum(heal_in, jnp.maximum(room, 0.0))
    used = jnp.where(heal_in > 0, heal_in_clipped / jnp.maximum(heal_in, _EPS), 0.0)[tgt] * heal_amt
    energy = units.energy - used * params.heal_energy_per_hp
    hp = hp + heal_in_clipped

    # --- suicide, regeneration, cooldowns --------------------------------------------------------
    hp = jnp.where(fire & (s.explode_radius > 0), 0.0, hp)
    since_hit = jnp.where(damaged, 0.0, units.since_hit + dt)
    regen = since_hit >= params.shield_regen_delay
    shield = jnp.where(regen, jnp.minimum(shield + params.shield_regen_rate * dt, s.shield), shield)
    hp = jnp.where(hp > 0, jnp.minimum(hp + s.hp_regen * dt, s.hp), hp)
    energy = jnp.minimum(energy + jnp.where(s.energy_max > 0, params.energy_regen * dt, 0.0), s.energy_max)
    cooldown = jnp.where(fire, units.cooldown + s.cooldown, units.cooldown)
    cooldown = jnp.maximum(cooldown - dt, -dt)

    new_alive = alive & (hp > 0)
    hp = jnp.where(new_alive, hp, 0.0)
    shield = jnp.where(new_alive, shield, 0.0)

    # --- movement and ground collisions ----------------------------------------------------------
    pos = units.pos + move
    ground = new_alive & ~s.is_air
    diff = pos[:, None, :] - pos[None, :, :]
    d = _norm(diff)
    overlap = jnp.maximum(s.radius[:, None] + s.radius[None, :] - d, 0.0)
    overlap = jnp.where(ground[:, None] & ground[None, :] & (idx[:, None] != idx[None, :]), overlap, 0.0)
    pos = pos + jnp.sum(0.5 * overlap[..., None] * diff / d[..., None], axis=1)
    pos = jnp.where(new_alive[:, None], jnp.clip(pos, 0.0, params.map_size), units.pos)

    return Units(
        type=units.type,
        pos=pos,
        hp=hp,
        shield=shield,
        energy=energy,
        cooldown=cooldown,
        since_hit=since_hit,
        alive=new_alive,
    )


def simulate(units: Units, cmd: Commands, team: np.ndarray, params: SMAXParams, n_substeps: int) -> Units:
    """One agent step: `n_substeps` sub-steps under the same commands (`lax.scan`)."""
    dt = params.step_seconds / n_substeps

    def body(u, _):
        return substep(u, cmd, team, params, dt), None

    units, _ = jax.lax.scan(body, units, None, length=n_substeps)
    return units
