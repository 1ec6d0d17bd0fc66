"""Normal-form (matrix) games as `MultiAgentEnv`s, with exact payoff and correlated-equilibrium tools.

A game of N agents, agent i having A_i actions, is a payoff tensor. `MatrixGame` accepts either

    a team payoff          (A_1, ..., A_N)      every agent receives the same payoff, or
    per-agent payoffs   (N, A_1, ..., A_N)      payoffs[i] is agent i's payoff.

Internally (and in `MatrixParams.payoffs`) the game is always stored per-agent, `(N, A_1, ..., A_N)`.
Agents may have different action counts: actions are padded to `num_actions = max_i A_i` and
`action_mask[i, a]` is False for a >= A_i.

One episode is one play of the game by default (`episode_length=1`); `episode_length=T` repeats the
stage game T times (the episode ends, `terminated=True`, after the T-th play; it is the task's own
end, so `truncated` is always False).

Shapes returned by `reset` / `step` (see `envs.core`):

    obs:          (N, obs_dim)     float32
        obs_mode="constant":     [1.0] (+ [t / T] when T > 1)                      obs_dim = 1 or 2
        obs_mode="last_action":  one-hot of the last joint action, agent by agent,
                                 zeros before the first play (+ [t / T] when T > 1) obs_dim = sum A_i (+1)
    state:        (sum A_i + 1,)   float32  last joint action one-hot (zeros at the start) and t / T
    action_mask:  (N, num_actions) bool
    reward:       (N,)             float32  payoff_scale * payoffs[i, a_1, ..., a_N]
    terminated:   ()               bool     True after the T-th play
    truncated:    ()               bool     always False
    info:         "payoff"     () float32  team payoff of the realised joint action (mean over agents,
                                           unscaled; 0 at reset)
                  "optimal"    () bool     the realised joint action attains the best team payoff
                  "ce_epsilon" () float32  largest gain any agent gets by deviating alone from the
                                           realised joint action (0 means it is a pure Nash equilibrium)

Actions are `(N,)` integers. Under `jit` values cannot be checked, so an out-of-range action of agent i
is clipped to [0, A_i - 1]; a trainer must respect `action_mask`.

Pure functions (usable under `jit`; shapes are static, so shape errors are raised at trace time):

    expected_payoff(payoffs, policies)  -> (N,)             exact expected payoff of a product policy
    product_to_joint(policies, ...)     -> (A_1, ..., A_N)  joint distribution of a product policy
    pure_joint(actions, shape)          -> (A_1, ..., A_N)  point mass on one joint action
    ce_epsilon(payoffs, joint)          -> ()               correlated-equilibrium epsilon of a joint
                                                            distribution
    team_payoff(payoffs)                -> (A_1, ..., A_N)  mean payoff over agents

These take `payoffs` either as a team tensor (ndim N) or per-agent (ndim N + 1); N is read from the
other argument, so there is no ambiguity.

Presets: `climbing()` and `penalty(k)`, the cooperative games of Claus & Boutilier (1998).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Array, Discrete, EnvSpec, MultiAgentEnv, PRNGKey, TimeStep, check_action

OBS_MODES = ("constant", "last_action")


# --------------------------------------------------------------------------------------------------
# Pure functions on payoff tensors
# --------------------------------------------------------------------------------------------------


def _per_agent(payoffs: Array, num_agents: int, what: str) -> Array:
    """Return `payoffs` as `(N, A_1, ..., A_N)`: a team tensor (ndim N) is repeated for every agent."""
    payoffs = jnp.asarray(payoffs)
    if payoffs.ndim == num_agents:
        return jnp.broadcast_to(payoffs, (num_agents, *payoffs.shape))
    if payoffs.ndim == num_agents + 1 and payoffs.shape[0] == num_agents:
        return payoffs
    raise ValueError(
        f"payoffs has shape {tuple(payoffs.shape)}, but {what} describes {num_agents} agents: expected a "
        f"team payoff with {num_agents} axes (A_1, ..., A_N) or per-agent payoffs with {num_agents + 1} "
        f"axes (N={num_agents}, A_1, ..., A_N)"
    )


def team_payoff(payoffs: Array) -> Array:
    """Team payoff `(A_1, ..., A_N)` of per-agent payoffs `(N, A_1, ..., A_N)`: the mean over agents."""
    return jnp.mean(jnp.asarray(payoffs), axis=0)


def _policy_rows(policies: Array, action_counts: Sequence[int]) -> list[Array]:
    """Agent i's distribution `(A_i,)` from padded policies `(N, A_max)`."""
    policies = jnp.asarray(policies)
    if policies.ndim != 2 or policies.shape[0] != len(action_counts):
        raise ValueError(
            f"policies has shape {tuple(policies.shape)}, expected (N={len(action_counts)}, A_max) "
            "action probabilities, one row per agent"
        )
    if policies.shape[1] < max(action_counts):
        raise ValueError(
            f"policies has {policies.shape[1]} columns, but an agent has {max(action_counts)} actions: "
            "pad every row to the largest action count (padded columns hold probability 0)"
        )
    return [policies[i, :n] for i, n in enumerate(action_counts)]


def expected_payoff(payoffs: Array, policies: Array) -> Array:
    """Exact expected payoff of every agent under a product (independent) mixed policy.

    Args:
      payoffs: `(A_1, ..., A_N)` team payoff or `(N, A_1, ..., A_N)` per-agent payoffs.
      policies: `(N, A_max)` action probabilities, row i is agent i's mixed strategy; columns
        `A_i..A_max-1` of row i are padding and are ignored (they should be 0).

    Returns:
      `(N,)`: `E_{a_j ~ policies[j] independently}[payoffs_i(a_1, ..., a_N)]` for each agent i,
      computed by contracting the payoff tensor with each agent's distribution (no sampling).
    """
    policies = jnp.asarray(policies)
    if policies.ndim != 2:
        raise ValueError(f"policies has shape {tuple(policies.shape)}, expected (N, A_max) probabilities")
    u = _per_agent(payoffs, policies.shape[0], "policies")
    rows = _policy_rows(policies, u.shape[1:])
    # Contract the last action axis with the last agent's distribution, then the next, ...
    for p in reversed(rows):
        u = jnp.tensordot(u, p.astype(u.dtype), axes=([-1], [0]))
    return u


def product_to_joint(policies: Array, action_counts: Sequence[int] | None = None) -> Array:
    """Joint distribution `(A_1, ..., A_N)` of a product policy: `joint[a] = prod_i policies[i, a_i]`.

    Args:
      policies: `(N, A_max)` per-agent action probabilities (padded columns ignored).
      action_counts: `(A_1, ..., A_N)`; defaults to `A_max` for every agent.
    """
    policies = jnp.asarray(policies)
    if action_counts is None:
        if policies.ndim != 2:
            raise ValueError(f"policies has shape {tuple(policies.shape)}, expected (N, A_max)")
        action_counts = (policies.shape[1],) * policies.shape[0]
    rows = _policy_rows(policies, tuple(action_counts))
    joint = rows[0]
    for p in rows[1:]:
        joint = joint[..., None] * p
    return joint


def pure_joint(actions: Array, shape: Sequence[int]) -> Array:
    """Point mass `(A_1, ..., A_N)` float32 on the joint action `actions` `(N,)` int (clipped into range)."""
    shape = tuple(int(s) for s in shape)
    actions = jnp.asarray(actions)
    if actions.shape != (len(shape),):
        raise ValueError(
            f"actions has shape {tuple(actions.shape)}, expected ({len(shape)},) for joint shape {shape}"
        )
    flat = jnp.ravel_multi_index(tuple(actions[i] for i in range(len(shape))), shape, mode="clip")
    return jax.nn.one_hot(flat, int(np.prod(shape)), dtype=jnp.float32).reshape(shape)


def deviation_gains(payoffs: Array, joint: Array) -> list[Array]:
    """Per-agent deviation gains of a joint distribution, the terms of the CE condition.

    Args:
      payoffs: `(A_1, ..., A_N)` team payoff or `(N, A_1, ..., A_N)` per-agent payoffs.
      joint: `(A_1, ..., A_N)` probabilities over joint actions (summing to 1).

    Returns:
      A list of N arrays; entry i has shape `(A_i, A_i)` and holds, at `[a, b]`,
      `sum_{a_-i} joint(a, a_-i) * (u_i(b, a_-i) - u_i(a, a_-i))`: the expected gain of agent i from
      playing b whenever it is recommended a. The diagonal is 0.
    """
    joint = jnp.asarray(joint)
    num_agents = joint.ndim
    u = _per_agent(payoffs, num_agents, "joint")
    if u.shape[1:] != joint.shape:
        raise ValueError(f"joint has shape {tuple(joint.shape)}, payoffs describe actions {u.shape[1:]}")
    gains = []
    for i in range(num_agents):
        n = joint.shape[i]
        j_i = jnp.moveaxis(joint, i, 0).reshape(n, -1)  # (A_i, prod A_-i)
        u_i = jnp.moveaxis(u[i], i, 0).reshape(n, -1).astype(j_i.dtype)
        played = jnp.sum(j_i * u_i, axis=1)  # (A_i,) value of obeying recommendation a
        deviated = j_i @ u_i.T  # (A_i, A_i) value of playing b when recommended a
        gains.append(deviated - played[:, None])
    return gains


def ce_epsilon(payoffs: Array, joint: Array) -> Array:
    """Correlated-equilibrium epsilon `()` of a joint distribution over joint actions.

    `max_{i, a_i, a_i'} sum_{a_-i} joint(a_i, a_-i) * (u_i(a_i', a_-i) - u_i(a_i, a_-i))`, always >= 0
    (deviating to the recommended action gains nothing). 0 exactly at a correlated equilibrium; for a
    point mass it is the largest unilateral-deviation gain (0 at a pure Nash equilibrium).

    Args:
      payoffs: `(A_1, ..., A_N)` team payoff or `(N, A_1, ..., A_N)` per-agent payoffs.
      joint: `(A_1, ..., A_N)` probabilities over joint actions.
    """
    gains = deviation_gains(payoffs, joint)
    return jnp.max(jnp.stack([jnp.max(g) for g in gains]))


# --------------------------------------------------------------------------------------------------
# The environment
# --------------------------------------------------------------------------------------------------


@struct.dataclass
class MatrixParams:
    """Vmappable game parameters.

    payoffs:      (N, A_1, ..., A_N) float32  per-agent payoffs (team games repeat the team payoff)
    payoff_scale: ()                 float32  rewards are payoff_scale * payoff; diagnostics
                                              (info, expected_payoff, ...) stay in game units
    """

    payoffs: Array
    payoff_scale: Array


@struct.dataclass
class MatrixState:
    t: Array  # () int32: plays so far in this episode
    last_action: Array  # (N,) int32: last joint action, -1 before the first play


class MatrixGame(MultiAgentEnv[MatrixState, MatrixParams]):
    """An N-agent normal-form game, played once (default) or `episode_length` times per episode.

    Args:
      payoffs: array-like, a team payoff `(A_1, ..., A_N)` or per-agent payoffs `(N, A_1, ..., A_N)`.
        Without `num_agents`, a tensor whose first axis equals its number of other axes (and which has
        at least 3 axes) is read as per-agent payoffs, e.g. `(2, A, B)` is a two-player bimatrix game;
        pass `num_agents` to say otherwise (a `(2, 2, 2)` team game of 3 agents needs `num_agents=3`).
      episode_length: plays per episode (>= 1); more than 1 makes a repeated game.
      obs_mode: "constant" or "last_action" (see the module docstring).
      payoff_scale: multiplies rewards (not the diagnostics).
      num_agents: optional, disambiguates the layout of `payoffs`.
      name: the env's name (for logs).
    """

    def __init__(
        self,
        payoffs: Any,
        episode_length: int = 1,
        obs_mode: str = "constant",
        payoff_scale: float = 1.0,
        num_agents: int | None = None,
        name: str = "matrix",
    ):
        try:
            table = np.asarray(payoffs, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"payoffs must be a numeric array-like (a nested list or array): {err}") from err
        if table.ndim < 1:
            raise ValueError(
                "payoffs must have at least one axis: a team payoff of shape (A_1, ..., A_N) or per-agent "
                f"payoffs of shape (N, A_1, ..., A_N); got a scalar {table!r}"
            )
        if num_agents is None:
            per_agent = table.ndim >= 3 and table.shape[0] == table.ndim - 1
            num_agents = table.ndim - 1 if per_agent else table.ndim
        else:
            num_agents = int(num_agents)
            if num_agents < 1:
                raise ValueError(f"num_agents must be >= 1, got {num_agents}")
            if table.ndim == num_agents:
                per_agent = False
            elif table.ndim == num_agents + 1 and table.shape[0] == num_agents:
                per_agent = True
            else:
                raise ValueError(
                    f"payoffs has shape {table.shape}, which fits neither a team payoff of {num_agents} "
                    f"agents ({num_agents} axes) nor per-agent payoffs ({num_agents + 1} axes, the first "
                    f"of length {num_agents}); fix the shape of payoffs or num_agents"
                )
        if not per_agent:
            table = np.broadcast_to(table, (num_agents, *table.shape))
        if min(table.shape[1:]) < 1:
            raise ValueError(
                f"payoffs has an empty action axis (shape {table.shape}): every agent needs >= 1 action"
            )
        if not np.all(np.isfinite(table)):
            raise ValueError("payoffs must be finite (no inf or nan)")
        if isinstance(episode_length, bool) or int(episode_length) != episode_length or episode_length < 1:
            raise ValueError(
                f"episode_length must be an integer >= 1 (1 = one-shot game), got {episode_length!r}"
            )
        if obs_mode not in OBS_MODES:
            raise ValueError(
                f"unknown obs_mode {obs_mode!r}; choose one of {', '.join(map(repr, OBS_MODES))}"
            )

        self.num_agents = num_agents
        self.action_counts: tuple[int, ...] = tuple(int(n) for n in table.shape[1:])
        self.num_actions = max(self.action_counts)
        self.episode_length = int(episode_length)
        self.obs_mode = obs_mode
        self._name = name
        self._payoffs = np.array(table, dtype=np.float32)
        self._payoff_scale = float(payoff_scale)
        self._mask = np.arange(self.num_actions)[None, :] < np.asarray(self.action_counts)[:, None]
        self._time_feature = self.episode_length > 1
        self.state_dim = sum(self.action_counts) + 1
        if obs_mode == "constant":
            self.obs_dim = 1 + int(self._time_feature)
        else:
            self.obs_dim = sum(self.action_counts) + int(self._time_feature)

    # ---- MultiAgentEnv -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    def default_params(self) -> MatrixParams:
        return MatrixParams(
            payoffs=jnp.asarray(self._payoffs),
            payoff_scale=jnp.asarray(self._payoff_scale, jnp.float32),
        )

    def spec(self, params: MatrixParams | None = None) -> EnvSpec:
        return EnvSpec(
            num_agents=self.num_agents,
            obs_dim=self.obs_dim,
            state_dim=self.state_dim,
            action_space=Discrete(self.num_actions),
        )

    def reset(self, key: PRNGKey, params: MatrixParams) -> tuple[MatrixState, TimeStep]:
        self._check_params(params)
        state = MatrixState(
            t=jnp.zeros((), jnp.int32),
            last_action=jnp.full((self.num_agents,), -1, jnp.int32),
        )
        info = {
            "payoff": jnp.zeros((), jnp.float32),
            "optimal": jnp.zeros((), bool),
            "ce_epsilon": jnp.zeros((), jnp.float32),
        }
        return state, self._timestep(state, jnp.zeros((self.num_agents,), jnp.float32), info)

    def step(
        self, key: PRNGKey, state: MatrixState, action: Array, params: MatrixParams
    ) -> tuple[MatrixState, TimeStep]:
        self._check_params(params)
        action = jnp.asarray(action)
        check_action(self.spec(params), action)
        if not jnp.issubdtype(action.dtype, jnp.integer):
            raise ValueError(
                f"action must be an integer (N,) array of action indices, got dtype {action.dtype}"
            )
        action = jnp.clip(action.astype(jnp.int32), 0, jnp.asarray(self.action_counts, jnp.int32) - 1)

        u = params.payoffs.astype(jnp.float32)
        index = tuple(action[i] for i in range(self.num_agents))
        payoff = u[(slice(None), *index)]  # (N,)
        team = jnp.mean(payoff)
        best = jnp.max(team_payoff(u))
        optimal = team >= best - 1e-6 * (1.0 + jnp.abs(best))
        # Best unilateral deviation of each agent: u_i(., a_-i) is a slice along agent i's axis.
        gains = [
            jnp.max(u[(i, *index[:i], slice(None), *index[i + 1 :])]) - payoff[i]
            for i in range(self.num_agents)
        ]
        epsilon = jnp.maximum(jnp.max(jnp.stack(gains)), 0.0)

        new_state = MatrixState(t=state.t + 1, last_action=action)
        info = {"payoff": team, "optimal": optimal, "ce_epsilon": epsilon}
        reward = (params.payoff_scale * payoff).astype(jnp.float32)
        return new_state, self._timestep(new_state, reward, info)

    # ---- helpers with this env's params -------------------------------------------------------

    def expected_payoff(self, policies: Array, params: MatrixParams | None = None) -> Array:
        """`(N,)` exact expected payoff (game units) of the product policy `policies` `(N, num_actions)`."""
        params = self.default_params() if params is None else params
        return expected_payoff(params.payoffs, policies)

    def ce_epsilon(self, joint: Array, params: MatrixParams | None = None) -> Array:
        """`()` correlated-equilibrium epsilon of `joint` `(A_1, ..., A_N)` in this game."""
        params = self.default_params() if params is None else params
        return ce_epsilon(params.payoffs, joint)

    def optimal_value(self, params: MatrixParams | None = None) -> Array:
        """`()` the best team payoff over all joint actions."""
        params = self.default_params() if params is None else params
        return jnp.max(team_payoff(params.payoffs))

    def product_to_joint(self, policies: Array) -> Array:
        """`(A_1, ..., A_N)` joint distribution of the product policy `policies` `(N, num_actions)`."""
        return product_to_joint(policies, self.action_counts)

    def pure_joint(self, actions: Array) -> Array:
        """`(A_1, ..., A_N)` point mass on the joint action `actions` `(N,)`."""
        return pure_joint(actions, self.action_counts)

    # ---- internals ------------------------------------------------------------------------------

    def _check_params(self, params: MatrixParams) -> None:
        want = (self.num_agents, *self.action_counts)
        if tuple(jnp.shape(params.payoffs)) != want:
            raise ValueError(
                f"params.payoffs has shape {tuple(jnp.shape(params.payoffs))}, but this env was built for "
                f"{want}; build params with env.default_params() (or .replace(payoffs=...) of that shape)"
            )

    def _timestep(self, state: MatrixState, reward: Array, info: dict) -> TimeStep:
        one_hot = jnp.concatenate(
            [
                jax.nn.one_hot(state.last_action[i], n, dtype=jnp.float32)
                for i, n in enumerate(self.action_counts)
            ]
        )
        frac = (state.t.astype(jnp.float32) / self.episode_length)[None]
        global_state = jnp.concatenate([one_hot, frac])
        if self.obs_mode == "constant":
            own = jnp.ones((1,), jnp.float32)
        else:
            own = one_hot
        if self._time_feature:
            own = jnp.concatenate([own, frac])
        obs = jnp.broadcast_to(own, (self.num_agents, self.obs_dim))
        return TimeStep(
            obs=obs,
            state=global_state,
            action_mask=jnp.asarray(self._mask),
            reward=reward,
            terminated=state.t >= self.episode_length,
            truncated=jnp.zeros((), bool),
            info=info,
        )


# --------------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------------
# Both games are from C. Claus and C. Boutilier, "The dynamics of reinforcement learning in cooperative
# multiagent systems", AAAI 1998, and are standard tests of coordination under miscoordination
# penalties (used e.g. in the MAVEN and Weighted QMIX papers, and in AgentMixer, Li et al., AAAI 2025).
# Rows are agent 0's actions, columns agent 1's. Some papers print the transpose; that is the same game
# with the agents' roles swapped.
# Orientation in the AgentMixer authors' code (LiZhYun/BackPropagationThroughAgents bta/envs/matrix/matrix_env.py,
# `ClimbingEnv`, from commit 4c10418 (2023-05-10) to HEAD 13607d0): climbing is
# [[0, 6, 5], [-30, 7, 0], [11, -30, 0]] indexed reward_array[a0, a1], i.e. ours with agent 0's actions in
# reverse order (a0 -> 2 - a0), so their optimum 11 is at (2, 0), ours at (0, 0); the -30s sit at their (1, 0)
# and (2, 1). It is the same game under a relabelling of agent 0's actions (not a transpose). Their penalty
# matrix [[k, 0, 10], [0, 2, 0], [10, 0, k]] (k = -K from "penalty_K") is ours.


def climbing(**kwargs) -> MatrixGame:
    """The climbing game: 2 agents, 3 actions, team payoff below; the optimum (0, 0) pays 11.

    The optimum is flanked by -30 penalties, so independent learners tend to "climb" to the safer
    (1, 1) = 7 or (2, 2) = 5 instead. kwargs (episode_length, obs_mode, payoff_scale) go to MatrixGame.
    """
    payoffs = [
        [11.0, -30.0, 0.0],
        [-30.0, 7.0, 0.0],
        [0.0, 6.0, 5.0],
    ]
    kwargs.setdefault("name", "climbing")
    return MatrixGame(payoffs, **kwargs)


def penalty(k: float = 100.0, **kwargs) -> MatrixGame:
    """The penalty game: 2 agents, 3 actions; (0, 2) and (2, 0) pay 10, miscoordinating on them costs k.

    `k` is the size of the penalty (Claus & Boutilier write it as a payoff k <= 0; here the payoff is
    -k, so k >= 0). The optimum is 10 whenever k >= -10. kwargs go to MatrixGame.
    """
    k = float(k)
    payoffs = [
        [-k, 0.0, 10.0],
        [0.0, 2.0, 0.0],
        [10.0, 0.0, -k],
    ]
    kwargs.setdefault("name", "penalty")
    return MatrixGame(payoffs, **kwargs)


__all__ = [
    "MatrixGame",
    "MatrixParams",
    "MatrixState",
    "OBS_MODES",
    "ce_epsilon",
    "climbing",
    "deviation_gains",
    "expected_payoff",
    "penalty",
    "product_to_joint",
    "pure_joint",
    "team_payoff",
]
