"""JaxMARL's SMAX behind our env API (envs/jaxmarl_smax.py): the same transitions as JaxMARL's own env, its `done`
split into termination and truncation, wins as JaxMARL counts them. jaxmarl is the optional `bench` extra
(`make bench-envs` installs it); without it these tests are skipped."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("jaxmarl")

from envs import AutoReset, EpisodeStats  # noqa: E402
from envs.jaxmarl_smax import JaxMARLSMAX  # noqa: E402

# A time limit of 30 steps (JaxMARL's `max_steps`; 100 by default) and 110 steps per env: with the policy below
# (attack a random enemy in range, else move at random) 32 envs see time-outs, lost battles and a few wins.
MAX_STEPS, ENVS, STEPS = 30, 32, 110


@pytest.fixture(scope="module")
def env():
    return JaxMARLSMAX("smacv2_5_units", max_steps=MAX_STEPS)


def _random_actions(key, mask):
    """(N,) a random available attack per agent, or a random available move when no enemy is in range."""
    is_attack = jnp.arange(mask.shape[-1]) >= 5  # JaxMARL's SMAX: 4 moves and stop, then one attack per enemy
    attack = jax.random.categorical(key, jnp.where(mask & is_attack, 0.0, -1e9))
    move = jax.random.categorical(key, jnp.where(mask & ~is_attack, 0.0, -1e9))
    return jnp.where((mask & is_attack).any(-1), attack, move)


@pytest.fixture(scope="module")
def episodes(env):
    """Our step and JaxMARL's own step_env from the same states, keys and actions, for ENVS x STEPS steps."""
    params = env.default_params()

    def one_env(key):
        state, ts = env.reset(key, params)

        def body(carry, k):
            state, ts = carry
            k_act, k_step = jax.random.split(k)
            action = _random_actions(k_act, ts.action_mask)
            theirs = env.inner.step_env(k_step, state, {a: action[i] for i, a in enumerate(env.agents)})
            new_state, new_ts = env.step(k_step, state, action, params)
            # after an end, start again from a fresh episode (ours does not reset itself)
            r_state, r_ts = env.reset(jax.random.fold_in(k, 1), params)
            carry = jax.tree.map(lambda a, b: jnp.where(new_ts.done, a, b), (r_state, r_ts), (new_state, new_ts))
            step_count = state.state.step + 1
            return carry, (new_ts, theirs[0], theirs[2], theirs[3]["__all__"], step_count)

        return jax.lax.scan(body, (state, ts), jax.random.split(key, STEPS))[1]

    return jax.jit(jax.vmap(one_env))(jax.random.split(jax.random.PRNGKey(0), ENVS))


def test_spec_matches_jaxmarl(env):
    spec = env.spec()
    assert spec.num_agents == 5 and spec.action_dim == env.inner.action_space("ally_0").n
    assert spec.obs_dim == env.inner.observation_space("ally_0").shape[0]
    assert spec.state_dim == env.inner.state_size
    assert spec.agent_names == tuple(f"ally_{i}" for i in range(5))


def test_transitions_are_jaxmarls(env, episodes):
    ts, their_obs, their_reward, _, _ = episodes
    np.testing.assert_array_equal(ts.obs, np.stack([their_obs[a] for a in env.agents], axis=2))
    np.testing.assert_array_equal(ts.state, their_obs["world_state"])
    np.testing.assert_array_equal(ts.reward, np.stack([their_reward[a] for a in env.agents], axis=2))


def test_done_splits_into_termination_and_truncation(episodes):
    ts, _, their_reward, their_done, step_count = episodes
    done = np.asarray(ts.done)
    np.testing.assert_array_equal(done, np.asarray(their_done))
    terminated, truncated = np.asarray(ts.terminated), np.asarray(ts.truncated)
    assert not (terminated & truncated).any()
    assert truncated.any() and terminated.any(), "the policy should both time out and end battles"
    # truncation is only the time limit, which JaxMARL reaches on an episode's step max_steps + 1 (its `done`
    # tests the step count before counting the step)
    np.testing.assert_array_equal(np.unique(np.asarray(step_count)[truncated]), [MAX_STEPS + 1])
    ended_battle = (np.asarray(ts.info["dead_allies"]) == 5) | (np.asarray(ts.info["dead_enemies"]) == 5)
    np.testing.assert_array_equal(terminated, ended_battle)


def test_won_is_jaxmarls_win(env, episodes):
    ts, _, their_reward, their_done, _ = episodes
    won = np.asarray(ts.info["won"])
    final = np.asarray(their_done)
    # JaxMARL's SMAXLogWrapper counts an episode as won when its final reward is >= 1 (the battle bonus)
    their_won = final & (np.asarray(their_reward[env.agents[0]]) >= 1.0)
    assert their_won.any(), "the policy should win some battles"
    np.testing.assert_array_equal(won & final, their_won)
    assert (won <= np.asarray(ts.terminated)).all()


def test_runs_under_our_wrappers(env):
    wrapped = EpisodeStats(AutoReset(env))
    params = wrapped.default_params()

    def rollout(key):
        state, ts = wrapped.reset(key, params)

        def body(carry, k):
            state, ts = carry
            state, ts = wrapped.step(k, state, _random_actions(k, ts.action_mask), params)
            return (state, ts), ts.info["episode_done"]

        return jax.lax.scan(body, (state, ts), jax.random.split(key, STEPS))[1]

    ended = jax.jit(jax.vmap(rollout))(jax.random.split(jax.random.PRNGKey(1), 4))
    assert np.asarray(ended).sum(axis=1).min() >= 1  # every env finished an episode and went on


def test_unknown_map_is_a_clear_error():
    with pytest.raises(ValueError, match="not a JaxMARL SMAX map"):
        JaxMARLSMAX("smacv2_6_units")
