"""Jumanji's multi-agent environments (Level-Based Foraging, Robotic Warehouse) behind our env API.

jumanji (instadeepai/jumanji, the installed 1.1.2) is imported by this module only, and the registry imports
this module only when one of its tasks is made (`envs.make("lbf_8x8-2p-2f-coop")`).

How jumanji's `TimeStep` maps onto ours (`envs/core.py`):

* The jumanji env is built with no time limit of its own (`time_limit` = 2**31 - 1); the time limit is ours,
  `params.max_steps` (a traced params field, so it can be swept and the env contract can cap it). After the
  step that brings jumanji's `state.step_count` to `max_steps` the episode is `truncated` (bootstrap), unless
  it ended inside the task at that same step.
* An end inside the task is jumanji's `LAST` step with discount 0 (LBF: every food item eaten; RWARE: two
  robots collided): `terminated`. A `LAST` step with discount 1 (jumanji's own truncation, which the disabled
  limit never produces) would be `truncated`. The difference from jumanji run with its own limit: RWARE marks
  its time limit as a termination (discount 0: `done = collision | horizon_reached`, then `termination(...)`),
  we mark it as a truncation, as LBF does. Done flags are otherwise jumanji's, step for step
  (tests/test_jumanji_adapter.py).
* The env does not reset itself: `envs.AutoReset` does (as for every env here); the reset key is passed to
  jumanji's `reset`. Jumanji's `step` takes no key (LBF is deterministic; RWARE draws new requests from the
  key in its state), so our `step` ignores its key.
* Actions: `(N,)` int32, validated by `envs.core.check_action`, clipped into `[0, num_actions)`; masked
  (unavailable) actions are jumanji's business (RWARE turns them into no-ops, LBF leaves the agent in place).

Rewards (cooperative): the team reward, repeated for every agent, `reward: (N,)`, as Mava trains these tasks
(instadeepai/Mava @ 57c8e64, mava/wrappers/jumanji.py: `LbfWrapper.aggregate_rewards` sums jumanji's
per-agent LBF rewards and repeats the sum, the default of mava/configs/env/lbf.yaml
`use_individual_rewards: False`; `RwareWrapper` repeats RWARE's scalar team reward). So `EpisodeStats`'s return
(the mean over agents) is the team's: on LBF with normalised rewards, the fraction of the food levels collected
(1 when every item is eaten), on RWARE the number of deliveries. `individual_rewards=True` keeps jumanji's
per-agent LBF values instead.

Global state (`global_state="env"`, the default): a flattening of the full jumanji state, in the units of the
observations, plus the time fraction, because with partial views (LBF's `2s-` scenarios see 2 cells; RWARE
robots see their 3x3 neighbourhood) the agents' observations together miss what no agent sees (RWARE's
requested shelves elsewhere in the warehouse, LBF's unseen food) and would not be a state. It is fixed-size:
every entity is kept, eaten food with its flag. `global_state="concat_obs"` is Mava's choice instead
(`JumanjiMarlWrapper.get_global_state`: the agents' observations concatenated, agent by agent).

Level-Based Foraging (`JumanjiLBF`; jumanji `LevelBasedForaging-v0`, its `RandomGenerator` options), F = food:

    obs:          (N, 3 * (F + N)) float32, jumanji's VectorObserver agents_view, as numbers:
                  [3f : 3f+3]         food f: (row, col, level), coordinates relative to the agent's view window
                                      (the window's top-left is min(fov, position) cells before the agent);
                                      (-1, -1, 0) when eaten or out of view (more than fov cells away)
                  [3F : 3F+3]         the agent itself: (row, col, level), same frame
                  [3F+3+3j : ...+3]   the other agents in index order (agent i's list skips i), (-1, -1, 0) unseen
                  grid_observation=True: (N, 3 * (2 fov + 1)**2), jumanji's GridObserver view (3, 2 fov + 1,
                  2 fov + 1) (channels: agent levels, food levels, accessible cells) flattened row-major (jumanji
                  1.1.2's GridObserver scatters int32 into a bool array: a JAX FutureWarning, theirs)
    state:        (4N + 4F + 1,) float32 ("env"): agents (row, col, level, loading) agent by agent, food
                  (row, col, level, eaten) item by item, in absolute grid coordinates, then t / max_steps;
                  ("concat_obs"): (N * obs_dim,) the rows of obs
    action_mask:  (N, 6) bool, jumanji's: 0 no-op, 1 up (row - 1), 2 down, 3 left (col - 1), 4 right, 5 load
    reward:       (N,) float32, the team reward (sum of jumanji's per-agent rewards) repeated
    info:         "eaten" () float32 fraction of the food items eaten so far (jumanji's percent_eaten / 100);
                  "won"   () bool every item eaten (the episode terminated in the task)

Robotic Warehouse (`JumanjiRware`; jumanji `RobotWarehouse-v0`, its `RandomGenerator` options); grid H x W with
H = (column_height + 1) * shelf_rows + 2, W = 3 * shelf_columns + 1; C = (2 sensor_range + 1)**2 cells seen:

    obs:          (N, 8 + 5 (C - 1) + 2 C) float32 (66 at sensor range 1), jumanji's agents_view, as numbers:
                  [0:2] own (row, col); [2] carrying a shelf; [3:7] direction one-hot (up, right, down, left);
                  [7] on a highway cell; then for each other cell of the (2s+1)x(2s+1) window, row-major, the own
                  cell skipped: (robot there, its direction one-hot) 5 numbers; then for every cell of the window,
                  row-major: (shelf there, shelf requested) 2 numbers (cells outside the grid read 0)
    state:        (3 H W + 7 N + 1,) float32 ("env"): robot occupancy (H, W), shelf occupancy (H, W) and
                  requested-shelf map (H, W), row-major, then per robot (row, col, direction one-hot (4),
                  carrying), then t / max_steps; ("concat_obs"): (N * obs_dim,)
    action_mask:  (N, 5) bool, jumanji's: 0 no-op, 1 forward, 2 turn left, 3 turn right, 4 toggle load
    reward:       (N,) float32, jumanji's team reward (deliveries of requested shelves this step) repeated
    info:         "collision" () bool the episode terminated because two robots collided

Registered tasks (envs/registry.py): `lbf` and `rware` (jumanji's `LevelBasedForaging-v0` / `RobotWarehouse-v0`
defaults, every option overridable, `scenario=NAME` picks a named one) and one task per named scenario,
`lbf_<name>` / `rware_<name>`, with Mava's sizes (SCENARIOS below) and Mava's time limits (lbf 100, rware 500).
"""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import struct
from jumanji import specs
from jumanji.env import Environment
from jumanji.environments.routing.lbf import LevelBasedForaging as _JumanjiLBF
from jumanji.environments.routing.lbf.generator import RandomGenerator as _LBFGenerator
from jumanji.environments.routing.robot_warehouse import RobotWarehouse as _JumanjiRware
from jumanji.environments.routing.robot_warehouse.generator import RandomGenerator as _RwareGenerator
from jumanji.types import StepType
from jumanji.types import TimeStep as JumanjiTimeStep

from envs.core import Array, Discrete, EnvSpec, MultiAgentEnv, PRNGKey, TimeStep, check_action

# The jumanji env is built with this time limit (never reached: step counts are int32); ours is params.max_steps.
NO_TIME_LIMIT = 2**31 - 1
GlobalState = Literal["env", "concat_obs"]
GLOBAL_STATES = ("env", "concat_obs")

# Named scenarios: sizes from Mava (instadeepai/Mava @ 57c8e64059bd, mava/configs/env/scenario/<name>.yaml,
# `task_config`, the generator's arguments) and its time limits (mava/configs/env/lbf.yaml `time_limit: 100`,
# mava/configs/env/rware.yaml `time_limit: 500`). The default scenarios of jumanji's registry (jumanji/__init__.py
# and the env constructors, jumanji 1.1.2): LevelBasedForaging-v0 is 8x8-2p-2f-coop (grid 8, fov 8, 2 agents,
# 2 food, level 2, force_coop) with time_limit 100; RobotWarehouse-v0 is small-4ag with a request queue of 8
# (time_limit 500): the plain `lbf` and `rware` tasks.
LBF_SCENARIOS: dict[str, dict] = {
    "2s-8x8-2p-2f-coop": dict(grid_size=8, fov=2, num_agents=2, num_food=2, max_agent_level=2, force_coop=True),
    "8x8-2p-2f-coop": dict(grid_size=8, fov=8, num_agents=2, num_food=2, max_agent_level=2, force_coop=True),
    "2s-10x10-3p-3f": dict(grid_size=10, fov=2, num_agents=3, num_food=3, max_agent_level=2, force_coop=False),
    "10x10-3p-3f": dict(grid_size=10, fov=10, num_agents=3, num_food=3, max_agent_level=2, force_coop=False),
    "15x15-3p-5f": dict(grid_size=15, fov=15, num_agents=3, num_food=5, max_agent_level=2, force_coop=False),
    "15x15-4p-3f": dict(grid_size=15, fov=15, num_agents=4, num_food=3, max_agent_level=2, force_coop=False),
    "15x15-4p-5f": dict(grid_size=15, fov=15, num_agents=4, num_food=5, max_agent_level=2, force_coop=False),
}
RWARE_SCENARIOS: dict[str, dict] = {
    "tiny-2ag": dict(column_height=8, shelf_rows=1, shelf_columns=3, num_agents=2, sensor_range=1,
                     request_queue_size=2),
    "tiny-4ag": dict(column_height=8, shelf_rows=1, shelf_columns=3, num_agents=4, sensor_range=1,
                     request_queue_size=4),
    "tiny-4ag-easy": dict(column_height=8, shelf_rows=1, shelf_columns=3, num_agents=4, sensor_range=1,
                          request_queue_size=8),
    "small-4ag": dict(column_height=8, shelf_rows=2, shelf_columns=3, num_agents=4, sensor_range=1,
                      request_queue_size=4),
}
LBF_MAX_STEPS = 100
RWARE_MAX_STEPS = 500


@struct.dataclass
class JumanjiParams:
    max_steps: Array  # () int32 time limit (truncation)


def _generator(cls, kwargs: dict):
    """Build a jumanji generator, turning its assertions on bad sizes into ValueErrors."""
    try:
        return cls(**kwargs)
    except AssertionError as err:
        raise ValueError(f"jumanji rejects {kwargs}: {err}") from None


class JumanjiAdapter(MultiAgentEnv[Any, JumanjiParams]):
    """A jumanji multi-agent `Environment` as a `MultiAgentEnv`; the state is jumanji's own `State`.

    Subclasses give the inner env (built with `time_limit=NO_TIME_LIMIT`) and the pieces of the TimeStep:
    `_obs` (N, obs_dim), `_env_state` (state_dim,), `_team_reward` (N,), `_info`."""

    inner: Environment
    num_actions: int
    agent_prefix = "agent"

    def __init__(self, inner: Environment, num_agents: int, num_actions: int, max_steps: int,
                 global_state: GlobalState):
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if global_state not in GLOBAL_STATES:
            raise ValueError(f"global_state={global_state!r}: choose one of {', '.join(GLOBAL_STATES)}")
        self.inner = inner
        self.num_agents = num_agents
        self.num_actions = num_actions
        self.max_steps = int(max_steps)
        self.global_state = global_state
        # Static widths, from one abstract reset (nothing compiled).
        _, ts = jax.eval_shape(self.reset, jax.random.PRNGKey(0), self.default_params())
        self._obs_dim, self._state_dim = ts.obs.shape[-1], ts.state.shape[-1]

    # ---- API ---------------------------------------------------------------------------------------

    def default_params(self) -> JumanjiParams:
        return JumanjiParams(max_steps=jnp.asarray(self.max_steps, jnp.int32))

    def spec(self, params: JumanjiParams | None = None) -> EnvSpec:
        return EnvSpec(
            num_agents=self.num_agents,
            obs_dim=self._obs_dim,
            state_dim=self._state_dim,
            action_space=Discrete(self.num_actions),
            agent_names=tuple(f"{self.agent_prefix}_{i}" for i in range(self.num_agents)),
        )

    def reset(self, key: PRNGKey, params: JumanjiParams) -> tuple[Any, TimeStep]:
        state, jts = self.inner.reset(key)
        zero = jnp.zeros((), bool)
        return state, self._timestep(state, jts, params, jnp.zeros((self.num_agents,), jnp.float32), zero, zero)

    def step(self, key: PRNGKey, state, action: Array, params: JumanjiParams) -> tuple[Any, TimeStep]:
        """`key` is unused (jumanji's step takes none). `action`: (N,) int32."""
        check_action(self.spec(params), action)
        action = jnp.clip(action.astype(jnp.int32), 0, self.num_actions - 1)
        state, jts = self.inner.step(state, action)
        last = jts.step_type == StepType.LAST
        ended_in_task = jnp.all(jnp.asarray(jts.discount) == 0)
        terminated = last & ended_in_task
        truncated = ((last & ~ended_in_task) | (state.step_count >= params.max_steps)) & ~terminated
        return state, self._timestep(state, jts, params, self._team_reward(jts), terminated, truncated)

    # ---- pieces ------------------------------------------------------------------------------------

    def _obs(self, jts: JumanjiTimeStep) -> Array:
        return jts.observation.agents_view.reshape(self.num_agents, -1).astype(jnp.float32)

    def _env_state(self, state, params: JumanjiParams) -> Array:
        raise NotImplementedError

    def _team_reward(self, jts: JumanjiTimeStep) -> Array:
        raise NotImplementedError

    def _info(self, state, jts: JumanjiTimeStep, terminated: Array) -> dict:
        raise NotImplementedError

    def _time_fraction(self, state, params: JumanjiParams) -> Array:
        return (state.step_count.astype(jnp.float32) / params.max_steps.astype(jnp.float32))[None]

    def _timestep(self, state, jts, params, reward, terminated, truncated) -> TimeStep:
        obs = self._obs(jts)
        global_state = obs.reshape(-1) if self.global_state == "concat_obs" else self._env_state(state, params)
        return TimeStep(
            obs=obs,
            state=global_state.astype(jnp.float32),
            action_mask=jnp.asarray(jts.observation.action_mask, bool),
            reward=jnp.asarray(reward, jnp.float32),
            terminated=jnp.asarray(terminated, bool),
            truncated=jnp.asarray(truncated, bool),
            info=self._info(state, jts, terminated),
        )


class JumanjiLBF(JumanjiAdapter):
    """Level-Based Foraging (jumanji `LevelBasedForaging`); see the module docstring for the shapes.

    Generator options as jumanji's `RandomGenerator` (defaults: `LevelBasedForaging-v0`); `fov=None` sees the
    whole grid. `normalize_reward` and `penalty` are jumanji's env options; `individual_rewards=True` keeps
    jumanji's per-agent rewards instead of the team sum."""

    agent_prefix = "forager"

    def __init__(
        self,
        grid_size: int = 8,
        fov: int | None = None,
        num_agents: int = 2,
        num_food: int = 2,
        max_agent_level: int = 2,
        force_coop: bool = True,
        max_steps: int = LBF_MAX_STEPS,
        grid_observation: bool = False,
        normalize_reward: bool = True,
        penalty: float = 0.0,
        individual_rewards: bool = False,
        global_state: GlobalState = "env",
    ):
        fov = grid_size if fov is None else fov
        generator = _generator(_LBFGenerator, dict(grid_size=grid_size, fov=fov, num_agents=num_agents,
                                                   num_food=num_food, max_agent_level=max_agent_level,
                                                   force_coop=force_coop))
        inner = _JumanjiLBF(generator=generator, time_limit=NO_TIME_LIMIT, grid_observation=grid_observation,
                            normalize_reward=normalize_reward, penalty=penalty)
        self.grid_size, self.fov, self.num_food = grid_size, fov, num_food
        self.individual_rewards = individual_rewards
        super().__init__(inner, num_agents, 6, max_steps, global_state)

    def _env_state(self, state, params: JumanjiParams) -> Array:
        agents, food = state.agents, state.food_items
        per_agent = jnp.concatenate([agents.position, agents.level[:, None], agents.loading[:, None]], axis=1)
        per_food = jnp.concatenate([food.position, food.level[:, None], food.eaten[:, None]], axis=1)
        return jnp.concatenate([per_agent.reshape(-1).astype(jnp.float32), per_food.reshape(-1).astype(jnp.float32),
                                self._time_fraction(state, params)])

    def _team_reward(self, jts: JumanjiTimeStep) -> Array:
        reward = jnp.asarray(jts.reward, jnp.float32)
        return reward if self.individual_rewards else jnp.full((self.num_agents,), jnp.sum(reward))

    def _info(self, state, jts: JumanjiTimeStep, terminated: Array) -> dict:
        eaten = state.food_items.eaten
        return {"eaten": jnp.mean(eaten.astype(jnp.float32)), "won": jnp.all(eaten)}


class JumanjiRware(JumanjiAdapter):
    """Robotic Warehouse (jumanji `RobotWarehouse`); see the module docstring for the shapes.

    Generator options as jumanji's `RandomGenerator` (defaults: `RobotWarehouse-v0`)."""

    agent_prefix = "robot"

    def __init__(
        self,
        shelf_rows: int = 2,
        shelf_columns: int = 3,
        column_height: int = 8,
        num_agents: int = 4,
        sensor_range: int = 1,
        request_queue_size: int = 8,
        max_steps: int = RWARE_MAX_STEPS,
        global_state: GlobalState = "env",
    ):
        for name, value in (("shelf_rows", shelf_rows), ("column_height", column_height), ("num_agents", num_agents),
                            ("sensor_range", sensor_range), ("request_queue_size", request_queue_size)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if shelf_columns < 1 or shelf_columns % 2 != 1:
            raise ValueError(f"shelf_columns must be a positive odd number, got {shelf_columns}")
        generator = _RwareGenerator(shelf_rows=shelf_rows, shelf_columns=shelf_columns, column_height=column_height,
                                    num_agents=num_agents, sensor_range=sensor_range,
                                    request_queue_size=request_queue_size)
        shelves = int(jnp.sum(1 - generator.highways))
        if not request_queue_size < shelves:
            raise ValueError(f"request_queue_size={request_queue_size} must be below the number of shelves, {shelves}")
        free_cells = int(jnp.sum(generator.highways))
        if num_agents > free_cells:
            raise ValueError(f"{num_agents} robots do not fit on the {free_cells} free cells")
        inner = _JumanjiRware(generator=generator, time_limit=NO_TIME_LIMIT)
        self.grid_shape = tuple(int(x) for x in generator.grid_size)
        super().__init__(inner, num_agents, 5, max_steps, global_state)

    def _env_state(self, state, params: JumanjiParams) -> Array:
        shelves, agents = state.shelves, state.agents
        robots = (state.grid[1] > 0).astype(jnp.float32)  # jumanji's channels: 0 shelves, 1 agents (ids + 1)
        shelf_cells = (state.grid[0] > 0).astype(jnp.float32)
        requested = jnp.zeros(self.grid_shape, jnp.float32).at[shelves.position.x, shelves.position.y].max(
            shelves.is_requested.astype(jnp.float32))
        per_robot = jnp.concatenate([
            jnp.stack([agents.position.x, agents.position.y], axis=1).astype(jnp.float32),
            jax.nn.one_hot(agents.direction, 4, dtype=jnp.float32),
            jnp.asarray(agents.is_carrying, jnp.float32)[:, None],
        ], axis=1)
        return jnp.concatenate([robots.reshape(-1), shelf_cells.reshape(-1), requested.reshape(-1),
                                per_robot.reshape(-1), self._time_fraction(state, params)])

    def _team_reward(self, jts: JumanjiTimeStep) -> Array:
        return jnp.full((self.num_agents,), jnp.asarray(jts.reward, jnp.float32))

    def _info(self, state, jts: JumanjiTimeStep, terminated: Array) -> dict:
        return {"collision": jnp.asarray(terminated, bool)}


# ---- registered tasks -----------------------------------------------------------------------------------


def _scenario(table: dict[str, dict], family: str, scenario: str) -> dict:
    if scenario not in table:
        raise ValueError(f"unknown {family} scenario {scenario!r}; known: {', '.join(table)}")
    return table[scenario]


def lbf(scenario: str | None = None, **kwargs) -> JumanjiLBF:
    """jumanji's `LevelBasedForaging-v0` (or the named `scenario` of LBF_SCENARIOS); kwargs override its options."""
    return JumanjiLBF(**{**(_scenario(LBF_SCENARIOS, "lbf", scenario) if scenario else {}), **kwargs})


def rware(scenario: str | None = None, **kwargs) -> JumanjiRware:
    """jumanji's `RobotWarehouse-v0` (or the named `scenario` of RWARE_SCENARIOS); kwargs override its options."""
    return JumanjiRware(**{**(_scenario(RWARE_SCENARIOS, "rware", scenario) if scenario else {}), **kwargs})


def lbf_2s_8x8_2p_2f_coop(**kwargs) -> JumanjiLBF:
    return lbf("2s-8x8-2p-2f-coop", **kwargs)


def lbf_8x8_2p_2f_coop(**kwargs) -> JumanjiLBF:
    return lbf("8x8-2p-2f-coop", **kwargs)


def lbf_2s_10x10_3p_3f(**kwargs) -> JumanjiLBF:
    return lbf("2s-10x10-3p-3f", **kwargs)


def lbf_10x10_3p_3f(**kwargs) -> JumanjiLBF:
    return lbf("10x10-3p-3f", **kwargs)


def lbf_15x15_3p_5f(**kwargs) -> JumanjiLBF:
    return lbf("15x15-3p-5f", **kwargs)


def lbf_15x15_4p_3f(**kwargs) -> JumanjiLBF:
    return lbf("15x15-4p-3f", **kwargs)


def lbf_15x15_4p_5f(**kwargs) -> JumanjiLBF:
    return lbf("15x15-4p-5f", **kwargs)


def rware_tiny_2ag(**kwargs) -> JumanjiRware:
    return rware("tiny-2ag", **kwargs)


def rware_tiny_4ag(**kwargs) -> JumanjiRware:
    return rware("tiny-4ag", **kwargs)


def rware_tiny_4ag_easy(**kwargs) -> JumanjiRware:
    return rware("tiny-4ag-easy", **kwargs)


def rware_small_4ag(**kwargs) -> JumanjiRware:
    return rware("small-4ag", **kwargs)


# ---- the other direction: one of our envs as a jumanji Environment --------------------------------------


class JumanjiObservation(struct.PyTreeNode):
    """What `AsJumanji` observes: our TimeStep's per-agent and global arrays."""

    agents_view: Array  # (N, obs_dim) float32
    global_state: Array  # (state_dim,) float32
    action_mask: Array  # (N, num_actions | act_dim) bool
    step_count: Array  # () int32


@struct.dataclass
class AsJumanjiState:
    env_state: Any
    key: Array  # PRNG key for our env's step keys
    step_count: Array  # () int32


class AsJumanji(Environment):
    """One of our `MultiAgentEnv`s (at fixed `params`) as a jumanji `Environment`, with specs.

    `reset(key)` / `step(state, action)` as jumanji's; the step keys come from a key in the state. The TimeStep:
    observation `JumanjiObservation`, reward (N,), discount (N,) 0 after a termination and 1 otherwise
    (truncation included), step_type LAST when the episode ended either way, extras our env's info. No
    auto-reset (wrap it in `jumanji.wrappers.AutoResetWrapper`, as any jumanji env)."""

    def __init__(self, env: MultiAgentEnv, params=None):
        self.env = env
        self.params = env.default_params() if params is None else params
        self.env_spec = env.spec(self.params)
        super().__init__()

    def reset(self, key: PRNGKey) -> tuple[AsJumanjiState, JumanjiTimeStep]:
        key, k_env = jax.random.split(key)
        env_state, ts = self.env.reset(k_env, self.params)
        state = AsJumanjiState(env_state, key, jnp.zeros((), jnp.int32))
        n = self.env_spec.num_agents
        return state, JumanjiTimeStep(step_type=StepType.FIRST, reward=jnp.zeros((n,), jnp.float32),
                                      discount=jnp.ones((n,), jnp.float32), observation=self._obs(ts, state),
                                      extras=ts.info)

    def step(self, state: AsJumanjiState, action: Array) -> tuple[AsJumanjiState, JumanjiTimeStep]:
        key, k_env = jax.random.split(state.key)
        env_state, ts = self.env.step(k_env, state.env_state, action, self.params)
        state = AsJumanjiState(env_state, key, state.step_count + 1)
        n = self.env_spec.num_agents
        step_type = jnp.where(ts.done, StepType.LAST, StepType.MID)
        discount = jnp.full((n,), jnp.where(ts.terminated, 0.0, 1.0), jnp.float32)
        return state, JumanjiTimeStep(step_type=step_type, reward=ts.reward, discount=discount,
                                      observation=self._obs(ts, state), extras=ts.info)

    @staticmethod
    def _obs(ts: TimeStep, state: AsJumanjiState) -> JumanjiObservation:
        return JumanjiObservation(ts.obs, ts.state, ts.action_mask, state.step_count)

    @property
    def observation_spec(self) -> specs.Spec[JumanjiObservation]:
        s = self.env_spec
        return specs.Spec(
            JumanjiObservation, "ObservationSpec",
            agents_view=specs.Array((s.num_agents, s.obs_dim), jnp.float32, "agents_view"),
            global_state=specs.Array((s.state_dim,), jnp.float32, "global_state"),
            action_mask=specs.BoundedArray((s.num_agents, s.action_dim), bool, False, True, "action_mask"),
            step_count=specs.Array((), jnp.int32, "step_count"),
        )

    @property
    def action_spec(self) -> specs.Spec:
        s = self.env_spec
        if isinstance(s.action_space, Discrete):
            return specs.MultiDiscreteArray(num_values=jnp.full((s.num_agents,), s.action_dim, jnp.int32),
                                            name="action")
        return specs.BoundedArray((s.num_agents, s.action_dim), jnp.float32, s.action_space.low,
                                  s.action_space.high, "action")

    @property
    def reward_spec(self) -> specs.Array:
        return specs.Array((self.env_spec.num_agents,), jnp.float32, "reward")

    @property
    def discount_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray((self.env_spec.num_agents,), jnp.float32, 0.0, 1.0, "discount")


def as_jumanji(env: MultiAgentEnv, params=None) -> AsJumanji:
    """`env` (one of ours, unwrapped or not) as a jumanji `Environment` at `params` (default: its defaults)."""
    return AsJumanji(env, params)
