"""`SMAXv2`: the pure-JAX SMACv2 stand-in as a `MultiAgentEnv`.

One instance is one static scenario (race, n_allies, n_enemies, sub-steps per agent step); every
other setting is in the `SMAXParams` pytree. Reward as SMACv2 (`reward_only_positive`): damage dealt
to enemy hit points + shields, `reward_death_value` per enemy killed, `reward_win` for a win, never
negative, divided by `max_reward / reward_scale_rate` with `max_reward = n_enemies * death_value +
win + sum of the enemies' max hp + shields`. One deliberate difference: the damage reward an enemy
can give is capped at its max hp + shields (SMACv2's bound ignores regenerated shields and medivac
heals, so its returns can exceed 20), which makes 20 the true maximum episode return. The battle is won
when no enemy that can fight (non-medivac) is left while one of ours is; it ends (lost) when none
of ours that can fight is left; the time limit (`episode_limit` agent steps) truncates it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from envs.core import Array, Discrete, EnvSpec, MultiAgentEnv, PRNGKey, TimeStep, check_action
from envs.smaxv2.observations import (
    MOVE_DIRECTIONS,
    NOOP,
    NORTH,
    NUM_NON_TARGET_ACTIONS,
    STOP,
    action_mask,
    get_obs,
    get_state,
    obs_dim,
    state_dim,
)
from envs.smaxv2.opponent import focus_fire_actions, opponent_commands
from envs.smaxv2.scenarios import (
    Scenario,
    SMAXParams,
    default_params,
    sample_positions,
    sample_types,
    static_widths,
)
from envs.smaxv2.simulation import IDLE, MOVE, TARGET, Commands, Units, init_units, simulate, team_ids
from envs.smaxv2.units import UNIT_NAMES, stats_of


@struct.dataclass
class SMAXState:
    """units: both teams (allies first); t: agent steps taken; last_action (n_allies,) int32;
    max_reward: the episode's reward normaliser; damage_credit (n_enemies,): damage reward each
    enemy can still give (starts at its max hp + shields); reflect: reflect or surrounded start."""

    units: Units
    t: Array
    last_action: Array
    max_reward: Array
    damage_credit: Array
    reflect: Array


class SMAXv2(MultiAgentEnv[SMAXState, SMAXParams]):
    """SMACv2-like battle: `race` in {protoss, terran, zerg}, `n_allies` agents vs `n_enemies`."""

    def __init__(self, race: str = "protoss", n_allies: int = 5, n_enemies: int = 5, n_substeps: int = 4):
        self.scenario = Scenario(race, n_allies, n_enemies)
        if n_substeps < 1:
            raise ValueError(f"n_substeps must be >= 1, got {n_substeps}")
        self.n_substeps = int(n_substeps)
        self.num_agents = n_allies
        self.n_enemies = n_enemies
        self.num_actions = static_widths(self.scenario)["num_actions"]
        self.team = team_ids(n_allies, n_enemies)

    @property
    def name(self) -> str:
        return self.scenario.name

    def default_params(self) -> SMAXParams:
        return default_params()

    def spec(self, params: SMAXParams | None = None) -> EnvSpec:
        return EnvSpec(
            num_agents=self.num_agents,
            obs_dim=obs_dim(self.scenario),
            state_dim=state_dim(self.scenario),
            action_space=Discrete(self.num_actions),
        )

    # --- episode -------------------------------------------------------------------------------

    def reset(self, key: PRNGKey, params: SMAXParams) -> tuple[SMAXState, TimeStep]:
        k_types, k_pos = jax.random.split(key)
        types = sample_types(k_types, self.scenario, params)
        pos, reflect = sample_positions(k_pos, self.scenario, params)
        return self.reset_to(init_units(types, pos, params), params, reflect)

    def reset_to(self, units: Units, params: SMAXParams, reflect: Array | bool = False):
        """Start an episode from hand-built `units` (tests, curricula)."""
        A = self.num_agents
        s = stats_of(params.units, units.type[A:])
        max_reward = self.n_enemies * params.reward_death_value + params.reward_win + jnp.sum(s.hp + s.shield)
        state = SMAXState(
            units=units,
            t=jnp.zeros((), jnp.int32),
            last_action=jnp.zeros((A,), jnp.int32),
            max_reward=max_reward.astype(jnp.float32),
            damage_credit=(s.hp + s.shield).astype(jnp.float32),
            reflect=jnp.asarray(reflect, bool),
        )
        zero = jnp.zeros((), bool)
        ts = self._timestep(state, params, jnp.zeros((A,), jnp.float32), zero, zero, zero)
        return state, ts

    def step(
        self, key: PRNGKey, state: SMAXState, action: Array, params: SMAXParams
    ) -> tuple[SMAXState, TimeStep]:
        check_action(self.spec(params), action)
        A = self.num_agents
        units = state.units
        mask = action_mask(units, self.scenario, params)
        action = action.astype(jnp.int32)
        legal = jnp.take_along_axis(mask, action[:, None], axis=1)[:, 0]
        action = jnp.where(legal, action, jnp.where(units.alive[:A], STOP, NOOP))
        ours = self.actions_to_commands(action, units, params)
        theirs = opponent_commands(key, units, self.scenario, params)
        cmd = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), ours, theirs)
        new_units = simulate(units, cmd, self.team, params, self.n_substeps)

        # SMACv2 reward: damage to hp + shields, death value per kill, win bonus; never negative.
        before = units.hp[A:] + units.shield[A:]
        after = new_units.hp[A:] + new_units.shield[A:]
        was_alive = units.alive[A:]
        killed = was_alive & ~new_units.alive[A:]
        dealt = jnp.where(was_alive, jnp.maximum(before - after, 0.0), 0.0)
        dealt = jnp.minimum(dealt, state.damage_credit)
        reward = jnp.sum(dealt) + params.reward_death_value * jnp.sum(killed)

        s = stats_of(params.units, new_units.type)
        fighting = new_units.alive & (s.heal_rate <= 0)
        ours_left = jnp.any(fighting[:A])
        theirs_left = jnp.any(fighting[A:])
        won = ours_left & ~theirs_left
        terminated = ~ours_left | ~theirs_left
        reward = reward + jnp.where(won, params.reward_win, 0.0)
        reward = reward / (state.max_reward / params.reward_scale_rate)
        t = state.t + 1
        truncated = (t >= params.episode_limit) & ~terminated

        new_state = state.replace(
            units=new_units, t=t, last_action=action, damage_credit=state.damage_credit - dealt
        )
        rewards = jnp.full((A,), reward, jnp.float32)
        return new_state, self._timestep(new_state, params, rewards, terminated, truncated, won)

    def actions_to_commands(self, action: Array, units: Units, params: SMAXParams) -> Commands:
        """Our agents' `(n_allies,)` actions as simulation commands (targets as global indices)."""
        K = NUM_NON_TARGET_ACTIONS
        is_move = (action >= NORTH) & (action < K)
        is_target = action >= K
        target_local = jnp.maximum(action - K, 0)
        kind = jnp.where(is_move, MOVE, jnp.where(is_target, TARGET, IDLE)).astype(jnp.int32)
        direction = jnp.asarray(MOVE_DIRECTIONS)[jnp.clip(action - NORTH, 0, 3)]
        direction = jnp.where(is_move[:, None], direction, 0.0)
        # Medivacs heal ally j (global index j), every other unit attacks enemy j (index A + j).
        A = self.num_agents
        healer = stats_of(params.units, units.type[:A]).heal_rate > 0
        target = jnp.where(healer, target_local, A + jnp.minimum(target_local, self.n_enemies - 1))
        return Commands(kind=kind, direction=direction, target=target.astype(jnp.int32))

    def _timestep(self, state, params, reward, terminated, truncated, won) -> TimeStep:
        units = state.units
        A = self.num_agents
        return TimeStep(
            obs=get_obs(units, self.scenario, params),
            state=get_state(units, state.last_action, self.scenario, params),
            action_mask=action_mask(units, self.scenario, params),
            reward=reward,
            terminated=jnp.asarray(terminated, bool),
            truncated=jnp.asarray(truncated, bool),
            info={
                "won": jnp.asarray(won, bool),
                "dead_allies": jnp.sum(~units.alive[:A]).astype(jnp.int32),
                "dead_enemies": jnp.sum(~units.alive[A:]).astype(jnp.int32),
            },
        )

    # --- helpers -------------------------------------------------------------------------------

    def focus_fire_action(self, state: SMAXState, params: SMAXParams) -> Array:
        """(n_allies,) actions of the scripted focus-fire baseline (privileged; not a learner)."""
        return focus_fire_actions(state.units, self.scenario, params)

    def unit_names(self, state: SMAXState) -> list[str]:
        return [UNIT_NAMES[int(t)] for t in state.units.type]


def make_scenario(race: str, n_allies: int, n_enemies: int, **kwargs) -> SMAXv2:
    """Generic factory: `make_scenario("zerg", 10, 11)`; kwargs go to `SMAXv2` (e.g. n_substeps)."""
    return SMAXv2(race, n_allies, n_enemies, **kwargs)
