"""JaxMARL's SMAX (FLAIROx/JaxMARL, `jaxmarl==0.2.0`, the project's `bench` extra) behind our env API, so that our
trainer can be compared with JaxMARL's own baselines on JaxMARL's own tasks (the held-out comparison of issue 17).

jaxmarl is an optional dependency: this module imports it, and it is not in the task registry (the env contract
suite runs without it). `envs.jaxmarl_smax.register_tasks()` registers `jaxmarl_<map>` for JaxMARL's SMACv2-style maps
(`smacv2_5_units`, `smacv2_10_units`, `smacv2_20_units`) when a script wants them by name
(`experiments/heldout_smax.py`), after which `experiments.train` builds them like any task in that process.

The env is JaxMARL's `HeuristicEnemySMAX` as their MAPPO baseline builds it (baselines/MAPPO/mappo_rnn_smax.py:
`HeuristicEnemySMAX(scenario=map_name_to_scenario(MAP_NAME), **ENV_KWARGS)`, ENV_KWARGS of
config/mappo_homogenous_rnn_smax.yaml: see_enemy_actions, walls_cause_death, attack_mode "closest"). Mapping:

    obs:          (N, obs_dim) float32  JaxMARL's per-ally observation, allies in their order (`ally_0` ...)
    state:        (state_dim,) float32  JaxMARL's `world_state` (every unit's health fraction, raw position on the
                                        32 x 32 map, weapon cooldown and type one-hot, then teams and raw types);
                                        their MAPPO critic adds a one-hot agent id, as our centralised critic does
    action_mask:  (N, num_actions) bool JaxMARL's `get_avail_actions`
    reward:       (N,) float32          JaxMARL's per-ally reward (the team reward: damage dealt over the enemies'
                                        health, +1 for a won battle)
    terminated:   one team is dead (a won, lost or drawn battle)
    truncated:    JaxMARL's time limit with both teams alive: JaxMARL's `done` does not tell the two apart (their
                  GAE does not bootstrap on either); ours bootstraps on truncation. The limit falls on an episode's
                  step `max_steps` + 1 (101 at the default 100): JaxMARL tests the step count before counting
                  the step
    info:         "won" () bool: every enemy dead and an ally alive, JaxMARL's condition for the +1 bonus
                  (their SMAXLogWrapper counts a win as a final reward >= 1); "dead_allies", "dead_enemies" ()
                  int32

The env does not reset itself (`envs.AutoReset` does, as for every env here): `step` calls JaxMARL's `step_env`,
which is their transition without their auto-reset. Settings live on the JaxMARL instance, so `params` is empty.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from envs.core import Array, Discrete, EnvSpec, MultiAgentEnv, PRNGKey, TimeStep, check_action

# JaxMARL's MAPPO SMAX baseline's env options (baselines/MAPPO/config/mappo_homogenous_rnn_smax.yaml, ENV_KWARGS)
BASELINE_ENV_KWARGS = dict(see_enemy_actions=True, walls_cause_death=True, attack_mode="closest")
MAPS = ("smacv2_5_units", "smacv2_10_units", "smacv2_20_units")


@struct.dataclass
class JaxMARLParams:
    """Empty: JaxMARL keeps its settings on the env instance."""


class JaxMARLSMAX(MultiAgentEnv[Any, JaxMARLParams]):
    """JaxMARL's `HeuristicEnemySMAX` on map `map_name`; see the module docstring for the shapes."""

    def __init__(self, map_name: str = "smacv2_5_units", **env_kwargs):
        try:
            from jaxmarl.environments.smax import HeuristicEnemySMAX, map_name_to_scenario
        except ImportError as err:
            raise ImportError("JaxMARL's SMAX needs jaxmarl: `make bench-envs` installs it (the `bench` extra, "
                              "pip install --no-deps jaxmarl==0.2.0 jaxtyping wadler-lindig)") from err
        try:
            scenario = map_name_to_scenario(map_name)
        except KeyError:
            raise ValueError(f"map_name={map_name!r} is not a JaxMARL SMAX map; e.g. {', '.join(MAPS)}") from None
        self.map_name = map_name
        self.inner = HeuristicEnemySMAX(scenario=scenario, **{**BASELINE_ENV_KWARGS, **env_kwargs})
        self.agents = tuple(self.inner.agents)  # the allies, in JaxMARL's order
        self.num_agents = len(self.agents)
        self.num_actions = int(self.inner.action_space(self.agents[0]).n)
        _, ts = jax.eval_shape(self.reset, jax.random.PRNGKey(0), self.default_params())
        self._obs_dim, self._state_dim = ts.obs.shape[-1], ts.state.shape[-1]

    @property
    def name(self) -> str:
        return f"jaxmarl_{self.map_name}"

    def default_params(self) -> JaxMARLParams:
        return JaxMARLParams()

    def spec(self, params: JaxMARLParams | None = None) -> EnvSpec:
        return EnvSpec(num_agents=self.num_agents, obs_dim=self._obs_dim, state_dim=self._state_dim,
                       action_space=Discrete(self.num_actions), agent_names=self.agents)

    def reset(self, key: PRNGKey, params: JaxMARLParams) -> tuple[Any, TimeStep]:
        obs, state = self.inner.reset(key)
        zero = jnp.zeros((), bool)
        return state, self._timestep(obs, state, jnp.zeros((self.num_agents,), jnp.float32), zero, zero)

    def step(self, key: PRNGKey, state, action: Array, params: JaxMARLParams) -> tuple[Any, TimeStep]:
        """`action`: (N,) int32, the allies' discrete actions."""
        check_action(self.spec(params), action)
        action = jnp.clip(action.astype(jnp.int32), 0, self.num_actions - 1)
        actions = {a: action[i] for i, a in enumerate(self.agents)}
        obs, state, reward, dones, _ = self.inner.step_env(key, state, actions)
        allies_alive, enemies_alive = self._alive(state)
        terminated = ~allies_alive | ~enemies_alive
        truncated = jnp.asarray(dones["__all__"], bool) & ~terminated
        reward = jnp.stack([reward[a] for a in self.agents]).astype(jnp.float32)
        return state, self._timestep(obs, state, reward, terminated, truncated)

    def _alive(self, state) -> tuple[Array, Array]:
        """(() bool some ally alive, () bool some enemy alive)."""
        alive = state.state.unit_alive
        return jnp.any(alive[:self.num_agents]), jnp.any(alive[self.num_agents:])

    def _timestep(self, obs: dict, state, reward: Array, terminated: Array, truncated: Array) -> TimeStep:
        allies_alive, enemies_alive = self._alive(state)
        alive = state.state.unit_alive
        avail = self.inner.get_avail_actions(state)
        return TimeStep(
            obs=jnp.stack([obs[a] for a in self.agents]).astype(jnp.float32),
            state=jnp.asarray(obs["world_state"], jnp.float32),
            action_mask=jnp.stack([avail[a] for a in self.agents]).astype(bool),
            reward=reward,
            terminated=jnp.asarray(terminated, bool),
            truncated=jnp.asarray(truncated, bool),
            info={"won": allies_alive & ~enemies_alive,
                  "dead_allies": jnp.sum(~alive[:self.num_agents]).astype(jnp.int32),
                  "dead_enemies": jnp.sum(~alive[self.num_agents:]).astype(jnp.int32)},
        )


def smacv2_5_units(**env_kwargs) -> JaxMARLSMAX:
    return JaxMARLSMAX("smacv2_5_units", **env_kwargs)


def smacv2_10_units(**env_kwargs) -> JaxMARLSMAX:
    return JaxMARLSMAX("smacv2_10_units", **env_kwargs)


def smacv2_20_units(**env_kwargs) -> JaxMARLSMAX:
    return JaxMARLSMAX("smacv2_20_units", **env_kwargs)


def register_tasks() -> tuple[str, ...]:
    """Register `jaxmarl_<map>` for every map in MAPS (in this process); returns the names."""
    from envs.registry import register

    names = tuple(f"jaxmarl_{m}" for m in MAPS)
    for name, m in zip(names, MAPS):
        register(name, f"envs.jaxmarl_smax:{m}")
    return names
