"""Scenario settings and their random generation: team compositions and start positions.

Follows SMACv2 (oxwhirl/smacv2, `smacv2/env/starcraft2/distributions.py`):
  - `weighted_teams`: the ally team is drawn i.i.d. from the race's three types with probabilities
    `type_probs` (0.45 / 0.45 / 0.10), redrawn while it consists only of exception types (medivac,
    baneling); the enemy team is a copy of the ally team, and in unequal scenarios the extra enemies
    are a second team drawn the same way (never a fixed type);
  - `surrounded_and_reflect`: with probability `p_reflect` "reflect" (allies uniform in the left half
    `[0, X/2 - 1] x [0, Y]`, enemy i mirrored at `(X - x_i, y_i)`, extra enemies uniform in the right
    half), otherwise "surrounded" (allies at the centre, enemies in 1-4 groups on distinct diagonals
    at a uniform fraction of the way from the corner to 2 units off the centre).
Units spawned at one point get a small jitter (`spawn_jitter`) so that they can separate, as the game
places them side by side; reflect starts are exact mirror images.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from envs.core import Array, PRNGKey
from envs.smaxv2.units import (
    ENERGY_REGEN,
    HEAL_ENERGY_PER_HP,
    RACE_WEIGHTS,
    RACES,
    SHIELD_REGEN_DELAY,
    SHIELD_REGEN_RATE,
    UnitStats,
    default_unit_stats,
)

RACE_NAMES = tuple(RACES)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Static scenario description (array sizes): the race and the two team sizes."""

    race: str
    n_allies: int
    n_enemies: int

    def __post_init__(self):
        if self.race not in RACES:
            raise ValueError(f"unknown race {self.race!r}; choose one of {RACE_NAMES}")
        if self.n_allies < 1 or self.n_enemies < 1:
            raise ValueError(f"team sizes must be >= 1, got {self.n_allies}v{self.n_enemies}")

    @property
    def n_units(self) -> int:
        return self.n_allies + self.n_enemies

    @property
    def race_types(self) -> tuple[int, int, int]:
        return RACES[self.race]

    @property
    def name(self) -> str:
        return f"{self.race}_{self.n_allies}v{self.n_enemies}"


@struct.dataclass
class SMAXParams:
    """Scenario settings: a pytree of arrays, so any of them can be vmapped or swept.

    units: the unit table; type_probs (3,): draw probabilities of the race's three types;
    p_reflect: probability of reflect (else surrounded) starts; map_size: side of the square map;
    episode_limit: agent steps; step_seconds: game time per agent step (8 game loops at 22.4 /s);
    min_attack_range: attack / heal actions are available within max(range, this) (SMACv2);
    move_amount: a move is feasible when the point this far away is on the map;
    reward_*: SMACv2 reward (damage + death value per kill + win bonus, scaled so the maximum
    episode return is `reward_scale_rate`); shield / energy constants as in the game.
    """

    units: UnitStats
    type_probs: Array
    p_reflect: Array
    map_size: Array
    episode_limit: Array
    step_seconds: Array
    min_attack_range: Array
    move_amount: Array
    spawn_jitter: Array
    reward_death_value: Array
    reward_win: Array
    reward_scale_rate: Array
    shield_regen_rate: Array
    shield_regen_delay: Array
    energy_regen: Array
    heal_energy_per_hp: Array


def default_params(**overrides) -> SMAXParams:
    """SMACv2 defaults; keyword overrides replace fields (e.g. `p_reflect=1.0`)."""
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    params = SMAXParams(
        units=default_unit_stats(),
        type_probs=f32(RACE_WEIGHTS),
        p_reflect=f32(0.5),
        map_size=f32(32.0),
        episode_limit=jnp.asarray(200, jnp.int32),
        step_seconds=f32(8.0 / 22.4),
        min_attack_range=f32(2.0),
        move_amount=f32(2.0),
        spawn_jitter=f32(0.5),
        reward_death_value=f32(10.0),
        reward_win=f32(200.0),
        reward_scale_rate=f32(20.0),
        shield_regen_rate=f32(SHIELD_REGEN_RATE),
        shield_regen_delay=f32(SHIELD_REGEN_DELAY),
        energy_regen=f32(ENERGY_REGEN),
        heal_energy_per_hp=f32(HEAL_ENERGY_PER_HP),
    )
    return params.replace(**{k: jnp.asarray(v, getattr(params, k).dtype) for k, v in overrides.items()})


def sample_team(key: PRNGKey, probs: Array, exception: Array, n: int) -> Array:
    """`(n,)` local type indices in {0, 1, 2}, i.i.d. with `probs`, redrawn while all are exceptions."""

    def draw(k):
        return jax.random.choice(k, 3, shape=(n,), p=probs).astype(jnp.int32)

    def invalid(team):
        return jnp.all(exception[team])

    def body(carry):
        k, _ = carry
        k, sub = jax.random.split(k)
        return k, draw(sub)

    key, sub = jax.random.split(key)
    _, team = jax.lax.while_loop(lambda c: invalid(c[1]), body, (key, draw(sub)))
    return team


def sample_types(key: PRNGKey, scenario: Scenario, params: SMAXParams) -> Array:
    """`(n_allies + n_enemies,)` global unit types: allies, then enemies (a copy of the allies, then
    `n_enemies - n_allies` extra enemies drawn as a team of their own)."""
    race = jnp.asarray(scenario.race_types, jnp.int32)
    exception = params.units.exception[race]
    k_ally, k_extra = jax.random.split(key)
    allies = sample_team(k_ally, params.type_probs, exception, scenario.n_allies)
    enemies = allies[: scenario.n_enemies]
    n_extra = scenario.n_enemies - scenario.n_allies
    if n_extra > 0:
        extra = sample_team(k_extra, params.type_probs, exception, n_extra)
        enemies = jnp.concatenate([enemies, extra])
    return race[jnp.concatenate([allies, enemies])]


def reflect_positions(key: PRNGKey, scenario: Scenario, params: SMAXParams) -> Array:
    """`(n_units, 2)` reflect starts (see module docstring)."""
    A, E = scenario.n_allies, scenario.n_enemies
    size = params.map_size
    k_a, k_e = jax.random.split(key)
    ally = jax.random.uniform(k_a, (A, 2)) * jnp.stack([size / 2 - 1, size])
    mirrored = jnp.stack([size - ally[:, 0], ally[:, 1]], axis=-1)[:E]
    if E > A:
        extra = jax.random.uniform(k_e, (E - A, 2)) * jnp.stack([size / 2, size]) + jnp.stack([size / 2, 0.0])
        mirrored = jnp.concatenate([mirrored, extra])
    return jnp.concatenate([ally, mirrored])


def surrounded_positions(key: PRNGKey, scenario: Scenario, params: SMAXParams) -> Array:
    """`(n_units, 2)` surrounded starts (see module docstring), before jitter."""
    A, E = scenario.n_allies, scenario.n_enemies
    size = params.map_size
    k_n, k_member, k_t, k_diag = jax.random.split(key, 4)
    centre = jnp.stack([size / 2, size / 2])
    signs = jnp.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    corners = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]]) * size
    near_centre = centre + 2.0 * signs
    n_groups = jax.random.randint(k_n, (), 1, 5)
    # Multinomial group sizes == each enemy independently in a uniform group.
    group = jnp.floor(jax.random.uniform(k_member, (E,)) * n_groups).astype(jnp.int32)
    t = jax.random.uniform(k_t, (4,))
    diagonal = jax.random.permutation(k_diag, 4)
    d = diagonal[group]
    enemy = near_centre[d] * t[group][:, None] + corners[d] * (1.0 - t[group][:, None])
    ally = jnp.broadcast_to(centre, (A, 2))
    return jnp.concatenate([ally, enemy])


def sample_positions(key: PRNGKey, scenario: Scenario, params: SMAXParams) -> tuple[Array, Array]:
    """Start positions `(n_units, 2)` and whether they are reflect starts `()` bool."""
    k_mode, k_ref, k_sur, k_jit = jax.random.split(key, 4)
    reflect = jax.random.uniform(k_mode) < params.p_reflect
    jitter = jax.random.uniform(k_jit, (scenario.n_units, 2), minval=-1.0, maxval=1.0) * params.spawn_jitter
    pos = jnp.where(
        reflect,
        reflect_positions(k_ref, scenario, params),
        surrounded_positions(k_sur, scenario, params) + jitter,
    )
    return jnp.clip(pos, 0.0, params.map_size), reflect


def static_widths(scenario: Scenario) -> dict[str, int]:
    """Sizes that shape arrays: shield bits (protoss only, as SMACv2), type bits, action count."""
    return {
        "shield_bits": int(scenario.race == "protoss"),
        "type_bits": 3,
        "num_actions": 6 + max(scenario.n_allies, scenario.n_enemies),
    }


__all__ = [
    "RACE_NAMES",
    "SMAXParams",
    "Scenario",
    "default_params",
    "reflect_positions",
    "sample_positions",
    "sample_team",
    "sample_types",
    "static_widths",
    "surrounded_positions",
]
