"""Wrappers over `MultiAgentEnv`: auto-reset and episode statistics.

Use them in this order (what `envs.make_wrapped` and the trainers do):

    env = EpisodeStats(AutoReset(base_env))

`AutoReset` starts a new episode inside `step` when the old one ends, and keeps the final observation
and global state of the finished episode in `info["final_obs"]` `(N, obs_dim)` and
`info["final_state"]` `(state_dim,)`, so a learner can bootstrap truncated episodes from the true last
observation (not from the first observation of the next episode). `EpisodeStats` adds the return,
length and reward per step of the episode that ended at this step, and copies the environment's own info scalars
(`won`, `success`, ...) of that final step under `info["episode"]`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from envs.core import Array, EnvSpec, MultiAgentEnv, PRNGKey, TimeStep


class Wrapper(MultiAgentEnv):
    """Delegates everything to the wrapped environment."""

    def __init__(self, env: MultiAgentEnv):
        self.env = env
        self.num_agents = env.num_agents

    def default_params(self):
        return self.env.default_params()

    def spec(self, params) -> EnvSpec:
        return self.env.spec(params)

    @property
    def unwrapped(self) -> MultiAgentEnv:
        return getattr(self.env, "unwrapped", self.env)

    @property
    def name(self) -> str:
        return self.env.name

    def __getattr__(self, attr: str) -> Any:
        # Environment-specific helpers (e.g. the matrix game's payoff tools) stay reachable.
        if attr == "env":
            raise AttributeError(attr)
        return getattr(self.env, attr)


class AutoReset(Wrapper):
    """Reset inside `step` when an episode ends; keep the final obs/state for bootstrapping.

    The returned `TimeStep` carries the *new* episode's first `obs`, `state` and `action_mask`, and the
    *finished* step's `reward`, `terminated`, `truncated` and `info`. The finished episode's last
    observation, state and action mask are in `info["final_obs"]`, `info["final_state"]` and
    `info["final_action_mask"]` (equal to `obs`, `state` and `action_mask` when no episode ended; an
    off-policy learner's target policy acts on the final step's mask).
    """

    def reset(self, key: PRNGKey, params) -> tuple[Any, TimeStep]:
        state, ts = self.env.reset(key, params)
        return state, self._with_final(ts, ts.obs, ts.state, ts.action_mask)

    def step(self, key: PRNGKey, state, action: Array, params) -> tuple[Any, TimeStep]:
        key_step, key_reset = jax.random.split(key)
        state_st, ts_st = self.env.step(key_step, state, action, params)
        state_re, ts_re = self.env.reset(key_reset, params)
        done = ts_st.done
        pick = lambda a, b: jax.tree.map(lambda x, y: jnp.where(done, x, y), a, b)  # noqa: E731
        new_state = pick(state_re, state_st)
        ts = ts_st.replace(
            obs=pick(ts_re.obs, ts_st.obs),
            state=pick(ts_re.state, ts_st.state),
            action_mask=pick(ts_re.action_mask, ts_st.action_mask),
        )
        return new_state, self._with_final(ts, ts_st.obs, ts_st.state, ts_st.action_mask)

    @staticmethod
    def _with_final(ts: TimeStep, final_obs: Array, final_state: Array, final_mask: Array) -> TimeStep:
        return ts.replace(info={**ts.info, "final_obs": final_obs, "final_state": final_state,
                                "final_action_mask": final_mask})


@struct.dataclass
class EpisodeStatsState:
    env_state: Any
    episode_return: Array  # () float32: team return (mean over agents) of the running episode
    episode_length: Array  # () int32
    last: dict[str, Array]  # statistics of the last finished episode (see EpisodeStats)


class EpisodeStats(Wrapper):
    """Track the running episode and report finished ones in `info["episode"]`.

    `info["episode"]` holds, at every step, the statistics of the most recent finished episode:
    `return` (team return, mean of the agents' rewards), `length`, `reward_per_step` (`return / length`:
    the team reward per step, the AgentMixer authors' evaluation metric), and each scalar of the
    environment's info at that episode's final step (for example `won`; an env that wants a
    per-episode count reports the running total in its info, as predator-prey's `miscoordinations`
    does). `info["episode_done"]` is
    True exactly at steps where an episode ended, so averages over finished episodes are
    `sum(done * x) / max(sum(done), 1)`.
    """

    _PRIVATE = ("final_obs", "final_state", "final_action_mask")

    def _env_scalars(self, info: dict) -> dict[str, Array]:
        return {
            k: jnp.asarray(v, jnp.float32)
            for k, v in info.items()
            if k not in self._PRIVATE and not k.startswith("episode")
        }

    def reset(self, key: PRNGKey, params) -> tuple[EpisodeStatsState, TimeStep]:
        env_state, ts = self.env.reset(key, params)
        last = {
            "return": jnp.zeros((), jnp.float32),
            "length": jnp.zeros((), jnp.float32),
            "reward_per_step": jnp.zeros((), jnp.float32),
            **jax.tree.map(jnp.zeros_like, self._env_scalars(ts.info)),
        }
        state = EpisodeStatsState(env_state, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32), last)
        info = {**ts.info, "episode": last, "episode_done": jnp.zeros((), bool)}
        return state, ts.replace(info=info)

    def step(self, key: PRNGKey, state: EpisodeStatsState, action: Array, params):
        env_state, ts = self.env.step(key, state.env_state, action, params)
        ep_return = state.episode_return + jnp.mean(ts.reward)
        ep_length = state.episode_length + 1
        done = ts.done
        finished = {
            "return": ep_return,
            "length": ep_length.astype(jnp.float32),
            "reward_per_step": ep_return / ep_length.astype(jnp.float32),  # ep_length >= 1
            **self._env_scalars(ts.info),
        }
        last = jax.tree.map(lambda new, old: jnp.where(done, new, old), finished, state.last)
        new_state = EpisodeStatsState(
            env_state,
            jnp.where(done, 0.0, ep_return),
            jnp.where(done, 0, ep_length),
            last,
        )
        return new_state, ts.replace(info={**ts.info, "episode": last, "episode_done": done})
