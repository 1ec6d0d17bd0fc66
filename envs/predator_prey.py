"""Cooperative predator-prey with a miscoordination penalty, as in the AgentMixer experiments.

A square grid holds `num_predators` predators (the agents) and `num_prey` prey. The prey is *caught*
when two or more predators stand in its cardinal neighbourhood (the 4 adjacent cells) at the same step:
the team receives `capture_reward` and the prey is removed. Exactly one predator there is a
miscoordination: the team pays `penalty` (P <= 0) and the prey survives. Every step costs `step_cost`.
The episode terminates when every prey is caught and is truncated after `max_steps` steps.

    . . . . .      P = predator (agent), x = prey.
    . . P . .      Here the prey at (2, 2) has predators at (1, 2) and (2, 1) in its cardinal
    . P x . .      neighbourhood: caught (team reward +capture_reward, prey removed).
    . . . . .      With only one of them adjacent, the team would pay the penalty P instead.
    . . . . .

Taken from the authors' code (LiZhYun/BackPropagationThroughAgents,
bta/envs/predator_prey/predator_prey.py, class `PredatorPrey`):
  * defaults grid_shape=(5, 5), n_agents=2, n_preys=1, step_cost=-0.01,
    prey_move_probs=(0.175, 0.175, 0.175, 0.175, 0.3), a 5x5 view (`_agent_view_mask`);
    the penalty default -0.5 is the one their run script passes
    (bta/scripts/train/train_predatorprey.py: `--penalty` default -0.5, `--num_agents` 2, `--num_preys` 1).
  * capture reward and time limit: the file's first version (commit 623370b, 2023-11-13) has
    prey_capture_reward=5, max_steps=100, our defaults here (`predator_prey`, `predator_prey_p*`). The
    next commit, dbe9688 (2023-11-13, "macpf"; unchanged up to HEAD 13607d0), sets prey_capture_reward=10,
    max_steps=128, and their runs use these: train_predatorprey.py (dbe9688) builds
    `PredatorPreyWrapper(num_agents, n_preys, penalty)` with the class defaults, and their AgentMixer
    script bta/scripts/temporal/predator_prey/lumi/train_predator_prey.sh (commit b7a9cb8, 2023-12-08)
    runs penalty 0 / -1 / -1.5 ("penalty=$1 # 0 -1 -1.5"), 1M env steps, 50 threads x 200-step rollouts.
    The presets `predator_prey_authors_p0`, `_p1`, `_p15` are that setting. (Their docstring speaks
    of a team reward of 1; the code never pays 1.)
  * the action order 0 = down (row + 1), 1 = left (col - 1), 2 = up (row - 1), 3 = right (col + 1),
    4 = no-op (`ACTION_MEANING`); every action is always available.
  * predators move one after another in index order, each into its target cell only if that cell is
    inside the grid and vacant (no predator, no live prey) at that moment (`__update_agent_pos`).
    So the resolution of simultaneous moves is deterministic: lower index has priority, a predator
    cannot move into the cell a higher-index predator is about to leave, and two predators never swap.
  * captures are counted after the predators move and before the prey moves; a captured prey is
    removed from the grid; rewards of several prey add up (`step`).
  * a live prey then tries up to `prey_tries` (5) moves drawn from `prey_move_probs` and takes the first
    whose destination has no predator in its cardinal neighbourhood, else it stays. We also require the
    destination to be inside the grid and vacant (the authors' move into an occupied cell silently
    fails, i.e. it stays; with us it tries the next draw instead). Prey move in index order.
  * reset: predators at distinct random cells, each prey at a random vacant cell outside every
    predator's neighbourhood (`__init_full_obs`).
  * observation: own coordinates, a 5x5 window of prey around the predator, the time fraction
    (`get_agent_obs`). The authors normalise the row by `G` and the column by `G - 1`; we use `G - 1`
    for both, so coordinates lie in [0, 1].

Shapes (N = num_predators, M = num_prey, G = grid_size, V = view_size):

    obs:          (N, 2 + V*V + 1) float32
                  [0:2]          own (row, col) / (G - 1)
                  [2:2+V*V]      prey in the VxV window centred on the predator, row-major, 1 = live prey
                                 (cells outside the grid read 0)
                  [2+V*V]        t / max_steps
                  [3+V*V:]       observe_predators=True only (obs_dim 2 + V*V + 1 + 2N): every predator's
                                 (row, col) / (G - 1), predator by predator, so that each agent also sees where
                                 the others are (ours, a fully observed variant for experiments; the authors'
                                 agents do not see each other)
    state:        (2N + 2G*G + M + 1,) float32
                  [0:2N]         every predator's (row, col) / (G - 1), predator by predator
                  [2N:2N+G*G]    predator occupancy grid, row-major
                  [..:..+G*G]    live-prey occupancy grid, row-major
                  [..:..+M]      prey alive flags
                  [-1]           t / max_steps
    action_mask:  (N, 5) bool, all True
    reward:       (N,) float32 team reward, repeated:
                  step_cost + capture_reward * #caught + penalty * #miscoordinated
    info:         "captured"         () float32  fraction of prey caught so far
                  "miscoordinations" () int32    penalties paid so far in the episode (a prey with exactly
                                                 one predator adjacent, counted per prey and step), so
                                                 the episode statistic is the episode's total

Defaults: 5x5 grid, 2 predators, 1 prey, P = -0.5, capture reward 5, 100 steps (`predator_prey`). Presets
`predator_prey_p0`, `predator_prey_p05`, `predator_prey_p1`, `predator_prey_p15` set P to 0, -0.5, -1, -1.5;
`predator_prey_authors_p0`, `predator_prey_authors_p1`, `predator_prey_authors_p15` are the authors' runs:
capture reward 10, 128 steps, P = 0, -1, -1.5. The larger task is
`envs.make("predator_prey", grid_size=7, num_predators=4, num_prey=2)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import struct

from envs.core import Array, Discrete, EnvSpec, MultiAgentEnv, PRNGKey, TimeStep, check_action

NUM_ACTIONS = 5
# (d_row, d_col) of actions 0..4: down, left, up, right, no-op (the authors' ACTION_MEANING order).
MOVES = jnp.array([[1, 0], [0, -1], [-1, 0], [0, 1], [0, 0]], dtype=jnp.int32)
ACTION_NAMES = ("down", "left", "up", "right", "noop")
NOOP = 4


@struct.dataclass
class PredatorPreyState:
    predator_pos: Array  # (N, 2) int32 (row, col)
    prey_pos: Array  # (M, 2) int32 (row, col); a caught prey keeps its last cell but is not on the grid
    prey_alive: Array  # (M,) bool
    t: Array  # () int32 steps taken in this episode
    misses: Array  # () int32 miscoordinations so far in this episode


@struct.dataclass
class PredatorPreyParams:
    penalty: Array  # () float32 team reward per miscoordination (P, <= 0)
    capture_reward: Array  # () float32 team reward per prey caught
    step_cost: Array  # () float32 team reward every step
    max_steps: Array  # () int32 time limit (truncation)
    prey_move_probs: Array  # (5,) float32 distribution of the prey's candidate moves (action order)


def _adjacent(a: Array, b: Array) -> Array:
    """`a` (..., 2) and `b` (..., 2) are cardinal neighbours (Manhattan distance 1)."""
    return jnp.sum(jnp.abs(a - b), axis=-1) == 1


class PredatorPrey(MultiAgentEnv[PredatorPreyState, PredatorPreyParams]):
    """Predator-prey on a `grid_size` x `grid_size` grid; see the module docstring."""

    def __init__(
        self,
        grid_size: int = 5,
        num_predators: int = 2,
        num_prey: int = 1,
        view_size: int = 5,
        prey_tries: int = 5,
        penalty: float = -0.5,
        capture_reward: float = 5.0,
        step_cost: float = -0.01,
        max_steps: int = 100,
        prey_move_probs: Sequence[float] = (0.175, 0.175, 0.175, 0.175, 0.3),
        observe_predators: bool = False,
    ):
        if grid_size < 2:
            raise ValueError(f"grid_size must be >= 2, got {grid_size}")
        if num_predators < 1 or num_prey < 1:
            raise ValueError(f"need num_predators >= 1 and num_prey >= 1, got {num_predators}, {num_prey}")
        if num_predators + num_prey > grid_size * grid_size:
            raise ValueError(
                f"{num_predators} predators and {num_prey} prey do not fit on a {grid_size}x{grid_size} grid"
            )
        if view_size < 1 or view_size % 2 == 0:
            raise ValueError(f"view_size must be a positive odd number, got {view_size}")
        if prey_tries < 1:
            raise ValueError(f"prey_tries must be >= 1, got {prey_tries}")
        if len(prey_move_probs) != NUM_ACTIONS:
            raise ValueError(f"prey_move_probs needs {NUM_ACTIONS} entries, got {len(prey_move_probs)}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        # Static sizes (shapes).
        self.grid_size = grid_size
        self.num_agents = num_predators
        self.num_predators = num_predators
        self.num_prey = num_prey
        self.view_size = view_size
        self.prey_tries = prey_tries
        self.observe_predators = bool(observe_predators)
        # Defaults of the traced parameters.
        self._defaults = dict(
            penalty=float(penalty),
            capture_reward=float(capture_reward),
            step_cost=float(step_cost),
            max_steps=int(max_steps),
            prey_move_probs=tuple(float(p) for p in prey_move_probs),
        )

    # ---- API ---------------------------------------------------------------------------------------

    def default_params(self) -> PredatorPreyParams:
        d = self._defaults
        return PredatorPreyParams(
            penalty=jnp.asarray(d["penalty"], jnp.float32),
            capture_reward=jnp.asarray(d["capture_reward"], jnp.float32),
            step_cost=jnp.asarray(d["step_cost"], jnp.float32),
            max_steps=jnp.asarray(d["max_steps"], jnp.int32),
            prey_move_probs=jnp.asarray(d["prey_move_probs"], jnp.float32),
        )

    @property
    def obs_dim(self) -> int:
        return 2 + self.view_size**2 + 1 + (2 * self.num_predators if self.observe_predators else 0)

    @property
    def state_dim(self) -> int:
        return 2 * self.num_predators + 2 * self.grid_size**2 + self.num_prey + 1

    def spec(self, params: PredatorPreyParams | None = None) -> EnvSpec:
        return EnvSpec(
            num_agents=self.num_predators,
            obs_dim=self.obs_dim,
            state_dim=self.state_dim,
            action_space=Discrete(NUM_ACTIONS),
            agent_names=tuple(f"predator_{i}" for i in range(self.num_predators)),
        )

    def reset(self, key: PRNGKey, params: PredatorPreyParams) -> tuple[PredatorPreyState, TimeStep]:
        g, n = self.grid_size, self.num_predators
        key_pred, key_prey = jax.random.split(key)
        cells = jnp.stack(jnp.divmod(jnp.arange(g * g, dtype=jnp.int32), g), axis=-1)  # (G*G, 2)
        pred_idx = jax.random.permutation(key_pred, g * g)[:n]
        predator_pos = cells[pred_idx]
        on_pred = jnp.any(jnp.all(cells[:, None] == predator_pos[None], -1), axis=1)  # (G*G,)
        near_pred = jnp.any(_adjacent(cells[:, None], predator_pos[None]), axis=1)
        taken = on_pred
        prey = []
        for k in jax.random.split(key_prey, self.num_prey):
            good = ~taken & ~near_pred
            ok = jnp.where(jnp.any(good), good, ~taken)  # fall back to any vacant cell (crowded grids)
            idx = jax.random.categorical(k, jnp.where(ok, 0.0, -jnp.inf))
            prey.append(cells[idx])
            taken = taken.at[idx].set(True)
        state = PredatorPreyState(
            predator_pos=predator_pos,
            prey_pos=jnp.stack(prey),
            prey_alive=jnp.ones((self.num_prey,), bool),
            t=jnp.zeros((), jnp.int32),
            misses=jnp.zeros((), jnp.int32),
        )
        zero = jnp.zeros((), bool)
        info = {"captured": jnp.zeros((), jnp.float32), "miscoordinations": jnp.zeros((), jnp.int32)}
        return state, self._timestep(state, params, jnp.zeros((n,), jnp.float32), zero, zero, info)

    def step(
        self, key: PRNGKey, state: PredatorPreyState, action: Array, params: PredatorPreyParams
    ) -> tuple[PredatorPreyState, TimeStep]:
        check_action(self.spec(params), action)
        action = jnp.clip(action.astype(jnp.int32), 0, NUM_ACTIONS - 1)
        predator_pos = self._move_predators(state.predator_pos, action, state.prey_pos, state.prey_alive)

        # Captures, with the predators in their new cells.
        n_adj = jnp.sum(_adjacent(predator_pos[:, None], state.prey_pos[None]), axis=0)  # (M,)
        caught = state.prey_alive & (n_adj >= 2)
        missed = state.prey_alive & (n_adj == 1)
        prey_alive = state.prey_alive & ~caught
        team = (
            params.step_cost
            + params.capture_reward * jnp.sum(caught).astype(jnp.float32)
            + params.penalty * jnp.sum(missed).astype(jnp.float32)
        )
        prey_pos = self._move_prey(key, state.prey_pos, prey_alive, predator_pos, params)

        t = state.t + 1
        misses = state.misses + jnp.sum(missed).astype(jnp.int32)
        new_state = PredatorPreyState(predator_pos, prey_pos, prey_alive, t, misses)
        terminated = ~jnp.any(prey_alive)
        truncated = (t >= params.max_steps) & ~terminated
        info = {
            "captured": jnp.mean(~prey_alive).astype(jnp.float32),
            "miscoordinations": misses,
        }
        reward = jnp.full((self.num_predators,), team, jnp.float32)
        return new_state, self._timestep(new_state, params, reward, terminated, truncated, info)

    # ---- dynamics ----------------------------------------------------------------------------------

    def _inside(self, pos: Array) -> Array:
        return jnp.all((pos >= 0) & (pos < self.grid_size), axis=-1)

    def _move_predators(self, pos: Array, action: Array, prey_pos: Array, prey_alive: Array) -> Array:
        """Sequential moves in index order into cells that are inside and vacant at that moment."""
        others = ~jnp.eye(self.num_predators, dtype=bool)
        prey_cells = jnp.where(prey_alive[:, None], prey_pos, -1)  # caught prey sit nowhere

        def body(i, pos):
            target = pos[i] + MOVES[action[i]]
            on_predator = jnp.any(jnp.all(pos == target, -1) & others[i])
            on_prey = jnp.any(jnp.all(prey_cells == target, -1))
            ok = self._inside(target) & ~on_predator & ~on_prey
            return pos.at[i].set(jnp.where(ok, target, pos[i]))

        return jax.lax.fori_loop(0, self.num_predators, body, pos)

    def _move_prey(
        self, key: PRNGKey, prey_pos: Array, alive: Array, predator_pos: Array, params: PredatorPreyParams
    ) -> Array:
        """Each live prey, in index order, takes the first of `prey_tries` random moves that is safe."""
        logits = jnp.log(params.prey_move_probs)
        draws = jax.random.categorical(key, logits, shape=(self.num_prey, self.prey_tries))
        others = ~jnp.eye(self.num_prey, dtype=bool)

        def body(m, pos):
            targets = pos[m] + MOVES[draws[m]]  # (T, 2)
            other_prey = jnp.where((alive & others[m])[:, None], pos, -1)
            on_prey = jnp.any(jnp.all(targets[:, None] == other_prey[None], -1), axis=1)
            on_pred = jnp.any(jnp.all(targets[:, None] == predator_pos[None], -1), axis=1)
            near_pred = jnp.any(_adjacent(targets[:, None], predator_pos[None]), axis=1)
            safe = self._inside(targets) & ~on_prey & ~on_pred & ~near_pred
            new = jnp.where(jnp.any(safe) & alive[m], targets[jnp.argmax(safe)], pos[m])
            return pos.at[m].set(new)

        return jax.lax.fori_loop(0, self.num_prey, body, prey_pos)

    # ---- observations ------------------------------------------------------------------------------

    def _prey_grid(self, prey_pos: Array, alive: Array) -> Array:
        g = self.grid_size
        grid = jnp.zeros((g, g), jnp.float32)
        return grid.at[prey_pos[:, 0], prey_pos[:, 1]].max(alive.astype(jnp.float32))

    def _timestep(self, state, params, reward, terminated, truncated, info) -> TimeStep:
        g, v = self.grid_size, self.view_size
        h = v // 2
        scale = jnp.float32(g - 1)
        time_frac = state.t.astype(jnp.float32) / params.max_steps.astype(jnp.float32)
        prey_grid = self._prey_grid(state.prey_pos, state.prey_alive)
        padded = jnp.pad(prey_grid, h)
        # Window rows pos-h..pos+h of the grid are rows pos..pos+2h of the padded grid.
        windows = jax.vmap(lambda p: jax.lax.dynamic_slice(padded, (p[0], p[1]), (v, v)))(state.predator_pos)
        n = self.num_predators
        parts = [state.predator_pos.astype(jnp.float32) / scale, windows.reshape(n, v * v), jnp.full((n, 1), time_frac)]
        if self.observe_predators:  # every predator's (row, col), the same for every agent (not the authors' task)
            parts.append(jnp.broadcast_to(state.predator_pos.astype(jnp.float32).reshape(1, 2 * n) / scale, (n, 2 * n)))
        obs = jnp.concatenate(parts, axis=1)
        rows, cols = state.predator_pos[:, 0], state.predator_pos[:, 1]
        pred_grid = jnp.zeros((g, g), jnp.float32).at[rows, cols].set(1.0)
        global_state = jnp.concatenate(
            [
                state.predator_pos.astype(jnp.float32).reshape(-1) / scale,
                pred_grid.reshape(-1),
                prey_grid.reshape(-1),
                state.prey_alive.astype(jnp.float32),
                time_frac[None],
            ]
        )
        return TimeStep(
            obs=obs,
            state=global_state,
            action_mask=jnp.ones((n, NUM_ACTIONS), bool),
            reward=reward,
            terminated=jnp.asarray(terminated, bool),
            truncated=jnp.asarray(truncated, bool),
            info=info,
        )


# ---- registered presets ---------------------------------------------------------------------------


def predator_prey(**kwargs) -> PredatorPrey:
    """5x5, 2 predators, 1 prey, P = -0.5 unless overridden (any constructor argument may be passed)."""
    return PredatorPrey(**kwargs)


def predator_prey_p0(**kwargs) -> PredatorPrey:
    return PredatorPrey(penalty=0.0, **kwargs)


def predator_prey_p05(**kwargs) -> PredatorPrey:
    return PredatorPrey(penalty=-0.5, **kwargs)


def predator_prey_p1(**kwargs) -> PredatorPrey:
    return PredatorPrey(penalty=-1.0, **kwargs)


def predator_prey_p15(**kwargs) -> PredatorPrey:
    return PredatorPrey(penalty=-1.5, **kwargs)


# The authors' setting (LiZhYun/BackPropagationThroughAgents bta/envs/predator_prey/predator_prey.py at commit
# dbe9688, unchanged at HEAD 13607d0: prey_capture_reward=10, max_steps=128) with the three penalties of their
# bta/scripts/temporal/predator_prey/lumi/train_predator_prey.sh (commit b7a9cb8). Other arguments may be passed.
AUTHORS_CAPTURE_REWARD = 10.0
AUTHORS_MAX_STEPS = 128


def _authors(penalty: float, kwargs: dict) -> PredatorPrey:
    kwargs = {"capture_reward": AUTHORS_CAPTURE_REWARD, "max_steps": AUTHORS_MAX_STEPS, **kwargs}
    return PredatorPrey(penalty=penalty, **kwargs)


def predator_prey_authors_p0(**kwargs) -> PredatorPrey:
    """P = 0, capture reward 10, 128 steps: the authors' predator_prey.py (dbe9688) and P of their run script."""
    return _authors(0.0, kwargs)


def predator_prey_authors_p1(**kwargs) -> PredatorPrey:
    """P = -1, capture reward 10, 128 steps: the authors' predator_prey.py (dbe9688) and P of their run script."""
    return _authors(-1.0, kwargs)


def predator_prey_authors_p15(**kwargs) -> PredatorPrey:
    """P = -1.5, capture reward 10, 128 steps: the authors' predator_prey.py (dbe9688) and P of their run script."""
    return _authors(-1.5, kwargs)
