"""Bridge crossing: two agents must cross a river over two narrow bridges without jamming one.

The grid (default height 5, width 7) has a river in the middle column(s); bridges cross it on
`bridge_rows` (default rows 1 and 3). Each agent starts at a random cell of the left bank (distinct
cells) and must reach the right bank:

        col 0 1 2 3 4 5 6
    row 0   . . . ~ . . .      ~ water (impassable)
    row 1   . A . = . . .      = bridge cell (one agent at a time)
    row 2   . . . ~ . . .      A, B agents (start on the left bank, cols 0-2)
    row 3   B . . = . . .      goal: any right-bank cell (cols 4-6)
    row 4   . . . ~ . . .

Only one agent fits on a bridge cell. When, after the intended moves, two agents would occupy the same
bridge cell (both try to enter it, or one holds it while the other tries to enter), they block each
other: neither moves (the jam) and the team pays `jam_penalty`. Bank cells hold any number of agents.
Moves off the grid or into water fail (the agent stays). An agent that reaches the right bank is
*across*: it leaves the game (it no longer moves or blocks anyone). The team receives `success_reward`
when both are across, which terminates the episode; every step costs `step_cost`; the episode is
truncated at `max_steps`.

Why it is a coordination task: each agent observes only its own position and its id, never the other
agent. An omniscient (centralised) policy sends the two agents to different bridges, choosing the
assignment that gets both across soonest (`expert_action`, from the global state): it never jams and
is as fast as possible. A decentralised policy cannot see where the other agent is, so it must rely on
a convention that does not depend on the other's position, e.g. "agent 0 takes the top bridge, agent 1
the bottom one" (`convention_action`): it never jams either, but it is slower when both agents start
near the same bridge. Without a convention ("everyone takes the nearest / the top bridge") agents that
arrive at the same bridge at the same time jam, and a deterministic pair keeps jamming until the time
limit. This is the setting where a correlated joint policy (AgentMixer's Policy Modifier, or an expert
imitated under partial observation, AIL) must be distilled into decentralised individual policies.

Actions (as in `envs.predator_prey`): 0 = down (row + 1), 1 = left, 2 = up (row - 1), 3 = right,
4 = no-op. `action_mask` is False for moves off the grid or into water, and, for an agent that is
across, for everything but the no-op.

Shapes (N = 2 agents, H = height, W = width):

    obs:          (2, 4) float32   [row / (H - 1), col / (W - 1), one-hot agent id (2)]
    state:        (7,) float32     [row_0, col_0, row_1, col_1 (normalised as in obs), across_0, across_1,
                                    t / max_steps]
    action_mask:  (2, 5) bool
    reward:       (2,) float32     team reward, repeated:
                                   step_cost + jam_penalty * jams + success_reward * [both just got across]
    info:         "success" () bool   both agents are across
                  "jams"    () int32  bridge cells jammed this step
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import struct

from envs.core import Array, Discrete, EnvSpec, MultiAgentEnv, PRNGKey, TimeStep, check_action

NUM_ACTIONS = 5
MOVES = jnp.array([[1, 0], [0, -1], [-1, 0], [0, 1], [0, 0]], dtype=jnp.int32)  # down, left, up, right, noop
DOWN, LEFT, UP, RIGHT, NOOP = range(NUM_ACTIONS)
NUM_AGENTS = 2


@struct.dataclass
class BridgeState:
    pos: Array  # (2, 2) int32 (row, col)
    across: Array  # (2,) bool: the agent has reached the right bank (it left the game)
    t: Array  # () int32


@struct.dataclass
class BridgeParams:
    bridge_rows: Array  # (B,) int32 rows of the bridges, top first
    max_steps: Array  # () int32
    success_reward: Array  # () float32
    step_cost: Array  # () float32
    jam_penalty: Array  # () float32


class BridgeCrossing(MultiAgentEnv[BridgeState, BridgeParams]):
    """Two agents cross a river on one-cell-wide bridges; see the module docstring."""

    def __init__(
        self,
        height: int = 5,
        width: int = 7,
        river_width: int = 1,
        bridge_rows: Sequence[int] = (1, 3),
        max_steps: int = 25,
        success_reward: float = 1.0,
        step_cost: float = -0.01,
        jam_penalty: float = -0.1,
    ):
        if height < 2:
            raise ValueError(f"height must be >= 2, got {height}")
        if river_width < 1 or width < river_width + 2:
            raise ValueError(f"width {width} leaves no banks beside a river of width {river_width}")
        bridge_rows = tuple(int(r) for r in bridge_rows)
        if len(bridge_rows) < 2:
            raise ValueError(f"need at least two bridges, got rows {bridge_rows}")
        if len(set(bridge_rows)) != len(bridge_rows) or not all(0 <= r < height for r in bridge_rows):
            raise ValueError(f"bridge_rows must be distinct rows in [0, {height}), got {bridge_rows}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.height = height
        self.width = width
        self.num_agents = NUM_AGENTS
        self.num_bridges = len(bridge_rows)
        # River columns [river_start, river_end); left bank cols < river_start; right bank >= river_end.
        self.river_start = (width - river_width) // 2
        self.river_end = self.river_start + river_width
        self._defaults = dict(
            bridge_rows=tuple(sorted(bridge_rows)),
            max_steps=int(max_steps),
            success_reward=float(success_reward),
            step_cost=float(step_cost),
            jam_penalty=float(jam_penalty),
        )

    # ---- API ---------------------------------------------------------------------------------------

    def default_params(self) -> BridgeParams:
        d = self._defaults
        return BridgeParams(
            bridge_rows=jnp.asarray(d["bridge_rows"], jnp.int32),
            max_steps=jnp.asarray(d["max_steps"], jnp.int32),
            success_reward=jnp.asarray(d["success_reward"], jnp.float32),
            step_cost=jnp.asarray(d["step_cost"], jnp.float32),
            jam_penalty=jnp.asarray(d["jam_penalty"], jnp.float32),
        )

    def spec(self, params: BridgeParams | None = None) -> EnvSpec:
        return EnvSpec(
            num_agents=NUM_AGENTS,
            obs_dim=2 + NUM_AGENTS,
            state_dim=2 * NUM_AGENTS + NUM_AGENTS + 1,
            action_space=Discrete(NUM_ACTIONS),
        )

    def reset(self, key: PRNGKey, params: BridgeParams) -> tuple[BridgeState, TimeStep]:
        h, rs = self.height, self.river_start
        idx = jax.random.permutation(key, h * rs)[:NUM_AGENTS]  # distinct left-bank cells
        pos = jnp.stack(jnp.divmod(idx.astype(jnp.int32), rs), axis=-1)
        state = BridgeState(pos=pos, across=jnp.zeros((NUM_AGENTS,), bool), t=jnp.zeros((), jnp.int32))
        zero = jnp.zeros((), bool)
        info = {"success": zero, "jams": jnp.zeros((), jnp.int32)}
        return state, self._timestep(state, params, jnp.zeros((NUM_AGENTS,), jnp.float32), zero, zero, info)

    def step(
        self, key: PRNGKey, state: BridgeState, action: Array, params: BridgeParams
    ) -> tuple[BridgeState, TimeStep]:
        check_action(self.spec(params), action)
        action = jnp.clip(action.astype(jnp.int32), 0, NUM_ACTIONS - 1)
        active = ~state.across
        target = state.pos + MOVES[action]
        ok = self._passable(target, params) & active
        target = jnp.where(ok[:, None], target, state.pos)
        # Jam: two active agents whose targets are the same bridge cell both stay where they are.
        same = jnp.all(target[:, None] == target[None], -1) & active[:, None] & active[None]
        same = same & ~jnp.eye(NUM_AGENTS, dtype=bool)
        jammed = jnp.any(same, axis=1) & self._is_bridge(target, params)
        pos = jnp.where(jammed[:, None], state.pos, target)
        # One jam per bridge cell: count the lowest-index agent of each jammed group.
        first = jammed & ~jnp.any(same & jnp.tri(NUM_AGENTS, k=-1, dtype=bool), axis=1)
        jams = jnp.sum(first).astype(jnp.int32)

        across = state.across | (pos[:, 1] >= self.river_end)
        success = jnp.all(across)
        t = state.t + 1
        team = (
            params.step_cost
            + params.jam_penalty * jams.astype(jnp.float32)
            + params.success_reward * (success & ~jnp.all(state.across)).astype(jnp.float32)
        )
        new_state = BridgeState(pos=pos, across=across, t=t)
        truncated = (t >= params.max_steps) & ~success
        info = {"success": success, "jams": jams}
        reward = jnp.full((NUM_AGENTS,), team, jnp.float32)
        return new_state, self._timestep(new_state, params, reward, success, truncated, info)

    # ---- geometry ----------------------------------------------------------------------------------

    def _in_river(self, pos: Array) -> Array:
        return (pos[..., 1] >= self.river_start) & (pos[..., 1] < self.river_end)

    def _on_bridge_row(self, pos: Array, params: BridgeParams) -> Array:
        return jnp.any(pos[..., 0, None] == params.bridge_rows, axis=-1)

    def _is_bridge(self, pos: Array, params: BridgeParams) -> Array:
        return self._in_river(pos) & self._on_bridge_row(pos, params)

    def _passable(self, pos: Array, params: BridgeParams) -> Array:
        row, col = pos[..., 0], pos[..., 1]
        inside = (row >= 0) & (row < self.height) & (col >= 0) & (col < self.width)
        water = self._in_river(pos) & ~self._on_bridge_row(pos, params)
        return inside & ~water

    def _timestep(self, state, params, reward, terminated, truncated, info) -> TimeStep:
        scale = jnp.array([self.height - 1, self.width - 1], jnp.float32)
        norm = state.pos.astype(jnp.float32) / scale
        obs = jnp.concatenate([norm, jnp.eye(NUM_AGENTS, dtype=jnp.float32)], axis=1)
        time_frac = state.t.astype(jnp.float32) / params.max_steps.astype(jnp.float32)
        global_state = jnp.concatenate([norm.reshape(-1), state.across.astype(jnp.float32), time_frac[None]])
        moves_ok = self._passable(state.pos[:, None] + MOVES[None], params)  # (2, 5); no-op always True
        mask = jnp.where(state.across[:, None], jnp.arange(NUM_ACTIONS) == NOOP, moves_ok)
        return TimeStep(
            obs=obs,
            state=global_state,
            action_mask=mask,
            reward=reward,
            terminated=jnp.asarray(terminated, bool),
            truncated=jnp.asarray(truncated, bool),
            info=info,
        )

    # ---- reference policies --------------------------------------------------------------------------

    def decode_state(self, global_state: Array) -> tuple[Array, Array]:
        """Positions `(2, 2)` int32 and across flags `(2,)` bool from a global state `(7,)`."""
        scale = jnp.array([self.height - 1, self.width - 1], jnp.float32)
        pos = jnp.round(global_state[: 2 * NUM_AGENTS].reshape(NUM_AGENTS, 2) * scale).astype(jnp.int32)
        across = global_state[2 * NUM_AGENTS : 3 * NUM_AGENTS] > 0.5
        return pos, across

    def crossing_time(self, pos: Array, bridge_row: Array) -> Array:
        """Steps an unhindered agent at `pos` (..., 2) needs to reach the right bank over `bridge_row`."""
        row, col = pos[..., 0], pos[..., 1]
        on_bank = col < self.river_start
        direct = jnp.abs(row - bridge_row) + (self.river_end - col)
        # On another bridge: back to the left bank, along it, and over.
        rs, re = self.river_start, self.river_end
        back = (col - rs + 1) + jnp.abs(row - bridge_row) + (re - rs + 1)
        on_this = self._in_river(pos) & (row == bridge_row)
        t = jnp.where(on_bank | on_this, direct, back)
        return jnp.where(col >= self.river_end, 0, t)

    def route_action(self, pos: Array, bridge_row: Array) -> Array:
        """Action `()` that moves an agent at `pos` (2,) along a shortest route over `bridge_row`."""
        row, col = pos[0], pos[1]
        in_river = self._in_river(pos)
        return jnp.select(
            [col >= self.river_end, in_river & (row != bridge_row), row < bridge_row, row > bridge_row],
            [NOOP, LEFT, DOWN, UP],
            RIGHT,
        ).astype(jnp.int32)

    def expert_action(self, global_state: Array, params: BridgeParams) -> Array:
        """The omniscient expert's joint action `(2,)` int32 from the global state `(7,)`.

        It assigns the two agents to different bridges, taking the assignment that gets both across
        soonest (least max crossing time, then least total; remaining ties: the first in
        `itertools.permutations` order, i.e. agent 0 on the higher bridge), and walks each agent along
        a shortest route over its bridge. Every step lowers the chosen assignment's (max, total) by
        exactly (1, 2) and any other's by at most that, so the assignment never changes while both are
        on their way: the agents never meet on a bridge, and the episode succeeds from every start in
        the least possible number of steps.
        """
        pos, across = self.decode_state(global_state)
        times = self.crossing_time(pos[:, None], params.bridge_rows[None])  # (2, B)
        times = jnp.where(across[:, None], 0, times)
        pairs = jnp.array(list(itertools.permutations(range(self.num_bridges), NUM_AGENTS)), jnp.int32)
        t0, t1 = times[0, pairs[:, 0]], times[1, pairs[:, 1]]
        cost = jnp.maximum(t0, t1) * (4 * (self.height + self.width)) + t0 + t1  # lexicographic
        choice = pairs[jnp.argmin(cost)]  # (2,) bridge index per agent
        rows = params.bridge_rows[choice]
        return jax.vmap(self.route_action)(pos, rows)

    def convention_action(self, obs: Array, params: BridgeParams) -> Array:
        """A decentralised convention `(2,)` from observations `(2, 4)`: agent i takes bridge i."""
        scale = jnp.array([self.height - 1, self.width - 1], jnp.float32)
        pos = jnp.round(obs[:, :2] * scale).astype(jnp.int32)
        agent_id = jnp.argmax(obs[:, 2:], axis=1)
        rows = params.bridge_rows[jnp.minimum(agent_id, self.num_bridges - 1)]
        return jax.vmap(self.route_action)(pos, rows)


def expert_action(env: BridgeCrossing, global_state: Array, params: BridgeParams) -> Array:
    """Module-level alias of `BridgeCrossing.expert_action` (the omniscient expert)."""
    return env.expert_action(global_state, params)
