"""Acting: the one rollout step and the greedy evaluator. Nothing else in the trainer steps an environment.

Every learner (PPO now; SAC and HAPPO later), checkpoint playback and the benchmarks act through `Acting`:

    acting = Acting(env, policy)                  # env wrapped here in EpisodeStats(AutoReset(env)) if needed
    carry = acting.reset(key, num_envs)           # ActingCarry: env state, time step, recurrent state (E, ...)
    carry, rec = acting.step(params, carry, k_act, k_env, behaviour)   # one step of E environments
    acting.evaluate(params, key, episodes)        # decentralised greedy evaluation, mean episode statistics
    acting.play(params, key, num_steps, num_envs, sample)      # per-step records of the individual policies

`behaviour(params, out, state, mask, key, episode_key) -> PolicyStep` picks the actions of ONE environment from
the actors' output `out`; `step` vmaps it over environments. `key` is fresh each step; `episode_key` is drawn at
the start of each episode and kept until it ends (None unless the policy asks for one, `policy.uses_episode_key`:
randomness that must hold for a whole episode, as `pm_dropout_per="episode"`). Shapes below: E environments,
N agents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from agentmixer_jax.policies.base import ActorCritic, PolicyStep
from envs.core import MultiAgentEnv, TimeStep
from envs.wrappers import AutoReset, EpisodeStats

Array = jax.Array
Behaviour = Callable[[Any, Any, Array, Array, Array, Array | None], PolicyStep]

# The greedy evaluator stops after this many steps even if an episode never ends (a policy stuck forever).
MAX_EVAL_STEPS = 100_000


def wrap(env: MultiAgentEnv) -> MultiAgentEnv:
    """`EpisodeStats(AutoReset(env))`, the form every part of the trainer steps (idempotent)."""
    if isinstance(env, EpisodeStats):
        return env
    if isinstance(env, AutoReset):
        return EpisodeStats(env)
    return EpisodeStats(AutoReset(env))


@struct.dataclass
class ActingCarry:
    """What acting carries from one step to the next, for E environments."""

    env_state: Any  # (E, ...) wrapped env state
    timestep: TimeStep  # (E, ...) the time step the next actions respond to
    hidden: Array  # (E, N, gru_size) recurrent state of the individual actors
    start: Array  # (E,) bool: the next step is the first of an episode (recurrent state reset before acting)
    # (E, 2) key of each environment's current episode (redrawn at its start), or None when the policy needs none
    episode_key: Array | None = None


@struct.dataclass
class StepRecord:
    """One step of E environments: what was seen, what was done, what came back."""

    obs: Array  # (E, N, obs_dim) observation the actions responded to (raw: as the env returned it)
    state: Array  # (E, state_dim) (raw)
    mask: Array  # (E, N, A) or (E, N, d)
    start: Array  # (E,) bool
    policy: PolicyStep  # the behaviour's actions (E, N[, d]), log-probs (E, K), extras, metrics
    next: TimeStep  # (E, ...) the env's answer: reward, terminated, truncated, info (final_obs, episode, ...)


class Acting:
    """Rollout steps, greedy evaluation and playback of one policy in one (wrapped) environment."""

    def __init__(self, env: MultiAgentEnv, policy: ActorCritic, env_params=None, gru_size: int | None = None,
                 squash: bool = False):
        self.env = wrap(env)
        self.squash = squash  # continuous: the env sees tanh(action) scaled to the box (SAC) instead of a clip
        self.env_params = self.env.default_params() if env_params is None else env_params
        self.spec = self.env.spec(self.env_params)
        self.policy = policy
        self.gru_size = policy.config.gru_size if gru_size is None else gru_size
        self._actor = jax.vmap(policy.actor_step, in_axes=(None, 0, 0, 0, 0))
        self._env_step = jax.vmap(self.env.step, in_axes=(0, 0, 0, None))
        self._env_reset = jax.vmap(self.env.reset, in_axes=(0, None))

    def to_env_action(self, action: Array) -> Array:
        """Continuous actions are clipped to the action box before the env sees them (the sample is kept); with
        `squash`, tanh(action) is mapped onto the box instead (SAC's squashed Gaussians; greedy: tanh(mean))."""
        if self.spec.discrete:
            return action
        low, high = self.spec.action_space.low, self.spec.action_space.high
        if self.squash:
            return low + 0.5 * (jnp.tanh(action) + 1.0) * (high - low)
        return jnp.clip(action, low, high)

    def initial_hidden(self, num_envs: int) -> Array:
        return jnp.broadcast_to(self.policy.initial_hidden(), (num_envs, self.spec.num_agents, self.gru_size))

    def reset(self, key: Array, num_envs: int) -> ActingCarry:
        env_state, ts = self._env_reset(jax.random.split(key, num_envs), self.env_params)
        # folded, not split, from the key: the env keys above stay what they were before episode keys existed
        episode_key = (jax.random.split(jax.random.fold_in(key, 1), num_envs) if self.policy.uses_episode_key
                       else None)
        return ActingCarry(env_state=env_state, timestep=ts, hidden=self.initial_hidden(num_envs),
                           start=jnp.ones((num_envs,), bool), episode_key=episode_key)

    def step(self, params, carry: ActingCarry, k_act: Array, k_env: Array, behaviour: Behaviour
             ) -> tuple[ActingCarry, StepRecord]:
        """Act in every environment with `behaviour` (keys from `k_act`) and step them (keys from `k_env`),
        auto-resetting finished episodes."""
        ts = carry.timestep
        num_envs = carry.start.shape[0]
        obs, state = self.policy.inputs(params, ts.obs, ts.state)  # the running input normalisation, if any
        hidden, out = self._actor(params, carry.hidden, obs, ts.action_mask, carry.start)
        episode_key = carry.episode_key
        if episode_key is not None:  # a new key where an episode starts (folded: k_act's own stream is unchanged)
            fresh = jax.random.split(jax.random.fold_in(k_act, 1), num_envs)
            episode_key = jnp.where(carry.start[:, None], fresh, episode_key)
        pstep = jax.vmap(behaviour, in_axes=(None, 0, 0, 0, 0, 0))(params, out, state, ts.action_mask,
                                                                   jax.random.split(k_act, num_envs), episode_key)
        env_state, next_ts = self._env_step(jax.random.split(k_env, num_envs), carry.env_state,
                                            self.to_env_action(pstep.action), self.env_params)
        record = StepRecord(obs=ts.obs, state=ts.state, mask=ts.action_mask, start=carry.start, policy=pstep,
                            next=next_ts)
        return ActingCarry(env_state=env_state, timestep=next_ts, hidden=hidden, start=next_ts.done,
                           episode_key=episode_key), record

    # ----- behaviours built from the policy ----------------------------------------------------------
    def greedy(self, mode: Callable | None = None) -> Behaviour:
        """The decentralised greedy behaviour (the individual modes, or `mode(params, out, state, mask)`)."""
        policy = self.policy
        mode = mode or (lambda params, out, state, mask: policy.mode(params, out, mask))

        def behaviour(params, out, state, mask, key, episode_key):
            action = mode(params, out, state, mask)
            return PolicyStep(action, jnp.zeros((0,), jnp.float32), (), {})

        return behaviour

    def individual_sample(self, hp) -> Behaviour:
        """Each agent samples from its own individual policy (no joint policy, no expert)."""
        policy = self.policy
        return lambda params, out, state, mask, key, episode_key: policy.individual_act(params, out, state, mask,
                                                                                        key, hp)

    # ----- greedy evaluation --------------------------------------------------------------------------
    def evaluate(self, params, key: Array, episodes: int, mode: Callable | None = None) -> dict:
        """Mean episode statistics of the greedy policy over `episodes` episodes, one per environment.

        Each environment plays until its first episode ends (or MAX_EVAL_STEPS); returns {name: ()} with the
        episode statistics of `EpisodeStats` (return, length and the env's info scalars)."""
        behaviour = self.greedy(mode)
        k_reset, key = jax.random.split(key)
        carry = self.reset(k_reset, episodes)
        stats0 = jax.tree.map(jnp.zeros_like, carry.timestep.info["episode"])

        def cond(c):
            return jnp.logical_and(~jnp.all(c[1]), c[4] < MAX_EVAL_STEPS)

        def body(c):
            carry, finished, stats, key, t = c
            key, k_env = jax.random.split(key)
            carry, rec = self.step(params, carry, k_env, k_env, behaviour)  # greedy: the action key is unused
            info = rec.next.info
            newly = info["episode_done"] & ~finished
            stats = jax.tree.map(lambda s, x: jnp.where(newly, x, s), stats, info["episode"])
            return carry, finished | info["episode_done"], stats, key, t + 1

        out = jax.lax.while_loop(cond, body, (carry, jnp.zeros((episodes,), bool), stats0, key, jnp.int32(0)))
        return jax.tree.map(jnp.mean, out[2])

    # ----- playback -----------------------------------------------------------------------------------
    def play(self, params, key: Array, num_steps: int, num_envs: int, behaviour: Behaviour) -> dict:
        """Per-step records of `behaviour` in `num_envs` auto-resetting environments for `num_steps` steps.

        Returns `state` (T, E, state_dim) and `action` (T, E, N[, d]) before each step, `reward` (T, E, N),
        `done` (T, E) and `info` (each env info scalar and `episode_done`, (T, E)) after it."""
        k_reset, k_steps = jax.random.split(key)

        def body(carry, k):
            carry, rec = self.step(params, carry, *jax.random.split(k), behaviour)
            info = {name: v for name, v in rec.next.info.items() if name != "episode" and v.ndim == 1}
            return carry, {"state": rec.state, "action": rec.policy.action, "reward": rec.next.reward,
                           "done": rec.next.done, "info": info}

        return jax.lax.scan(body, self.reset(k_reset, num_envs), jax.random.split(k_steps, num_steps))[1]
