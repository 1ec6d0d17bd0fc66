"""Bridge crossing (envs/bridge.py): jams, success, masks, and the omniscient expert vs conventions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.bridge import BridgeCrossing, BridgeState, expert_action
from tests.rollouts import random_rollout

D, L, U, R, N = 0, 1, 2, 3, 4  # down (row + 1), left, up (row - 1), right, no-op
KEY = jax.random.PRNGKey(0)
# Default geometry: height 5, width 7, river column 3, bridges (1, 3) and (3, 3); right bank cols 4-6.


@pytest.fixture(scope="module")
def env():
    return BridgeCrossing()


@pytest.fixture(scope="module")
def step(env):
    return jax.jit(env.step)


def _state(pos, across=(False, False), t=0):
    return BridgeState(
        pos=jnp.asarray(pos, jnp.int32), across=jnp.asarray(across, bool), t=jnp.asarray(t, jnp.int32)
    )


def _act(*a):
    return jnp.asarray(a, jnp.int32)


def test_registered_and_spec():
    env = envs.make("bridge")
    spec = env.spec(env.default_params())
    assert (spec.num_agents, spec.obs_dim, spec.state_dim, spec.action_dim) == (2, 4, 7, 5)


def test_jam_entering_the_same_bridge_cell(env, step):
    params = env.default_params()
    s, ts = step(KEY, _state([[1, 2], [1, 2]]), _act(R, R), params)  # both step onto bridge (1, 3)
    np.testing.assert_array_equal(s.pos, [[1, 2], [1, 2]])
    assert int(ts.info["jams"]) == 1
    np.testing.assert_allclose(ts.reward, [-0.01 - 0.1] * 2, rtol=1e-6)
    assert not bool(ts.done)


def test_jam_holding_the_bridge(env, step):
    params = env.default_params()
    # Agent 0 stays on the bridge while agent 1 tries to enter it: both blocked, penalty paid.
    s, ts = step(KEY, _state([[1, 3], [1, 2]]), _act(N, R), params)
    np.testing.assert_array_equal(s.pos, [[1, 3], [1, 2]])
    assert int(ts.info["jams"]) == 1
    # Agent 0 leaves the bridge as agent 1 enters: no jam, agent 0 is across.
    s, ts = step(KEY, _state([[1, 3], [1, 2]]), _act(R, R), params)
    np.testing.assert_array_equal(s.pos, [[1, 4], [1, 3]])
    np.testing.assert_array_equal(s.across, [True, False])
    assert int(ts.info["jams"]) == 0
    np.testing.assert_allclose(ts.reward, [-0.01] * 2, rtol=1e-6)


def test_different_bridges_and_banks_do_not_jam(env, step):
    params = env.default_params()
    s, ts = step(KEY, _state([[1, 2], [3, 2]]), _act(R, R), params)
    np.testing.assert_array_equal(s.pos, [[1, 3], [3, 3]])
    assert int(ts.info["jams"]) == 0
    s, ts = step(KEY, _state([[0, 0], [0, 1]]), _act(R, N), params)  # banks hold several agents
    np.testing.assert_array_equal(s.pos, [[0, 1], [0, 1]])
    assert int(ts.info["jams"]) == 0


def test_water_and_walls(env, step):
    params = env.default_params()
    s, _ = step(KEY, _state([[0, 2], [2, 2]]), _act(R, R), params)  # (0, 3), (2, 3) are water
    np.testing.assert_array_equal(s.pos, [[0, 2], [2, 2]])
    s, _ = step(KEY, _state([[0, 0], [4, 0]]), _act(U, D), params)
    np.testing.assert_array_equal(s.pos, [[0, 0], [4, 0]])
    s, _ = step(KEY, _state([[1, 3], [3, 3]]), _act(U, D), params)  # off a bridge into water
    np.testing.assert_array_equal(s.pos, [[1, 3], [3, 3]])


def test_success(env, step):
    params = env.default_params()
    s, ts = step(KEY, _state([[2, 5], [3, 3]], across=(True, False)), _act(N, R), params)
    assert bool(ts.terminated) and not bool(ts.truncated) and bool(ts.info["success"])
    np.testing.assert_allclose(ts.reward, [1.0 - 0.01] * 2, rtol=1e-6)
    # An agent that is across is out of the game: it neither moves nor blocks.
    s, ts = step(KEY, _state([[1, 4], [1, 3]], across=(True, False)), _act(L, R), params)
    np.testing.assert_array_equal(s.pos, [[1, 4], [1, 4]])
    assert bool(ts.info["success"]) and int(ts.info["jams"]) == 0


def test_truncation(env, step):
    params = env.default_params()
    _, ts = step(KEY, _state([[0, 0], [4, 0]], t=24), _act(N, N), params)
    assert bool(ts.truncated) and not bool(ts.terminated) and not bool(ts.info["success"])


def test_action_mask_and_observation(env):
    params = env.default_params()
    ts = env._timestep(_state([[0, 2], [1, 3]]), params, jnp.zeros(2), False, False, {})
    #                                          down   left   up     right  noop
    np.testing.assert_array_equal(ts.action_mask, [[True, True, False, False, True],  # right is water
                                                   [False, True, False, True, True]])  # on the bridge
    np.testing.assert_allclose(ts.obs, [[0.0, 2 / 6, 1, 0], [0.25, 0.5, 0, 1]])
    np.testing.assert_allclose(ts.state, [0.0, 2 / 6, 0.25, 0.5, 0, 0, 0])
    ts = env._timestep(_state([[1, 5], [1, 3]], across=(True, False)), params, jnp.zeros(2), False, False, {})
    np.testing.assert_array_equal(ts.action_mask[0], [False, False, False, False, True])
    # Each agent sees only itself: agent 0's observation does not change when agent 1 moves.
    other_moved = _state([[1, 5], [4, 0]], across=(True, False))
    ts2 = env._timestep(other_moved, params, jnp.zeros(2), False, False, {})
    np.testing.assert_array_equal(ts.obs[0], ts2.obs[0])


def test_reset(env):
    params = env.default_params()
    s, ts = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(jax.random.split(KEY, 256), params)
    pos = np.asarray(s.pos)
    assert (pos[:, :, 1] < 3).all()  # left bank
    assert (pos[:, 0] != pos[:, 1]).any(-1).all()  # distinct cells
    assert len({tuple(p.ravel()) for p in pos}) > 50
    assert not bool(jnp.any(ts.done))


# ---- expert and conventions -----------------------------------------------------------------------


def _policy_episodes(env, policy, num_envs=256):
    """Run `policy(timestep) -> (2,)` on `num_envs` random starts for max_steps; per-env outcomes."""

    def run(key, params):
        state, ts = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

        def body(carry, _):
            state, ts, done, success, jams, length = carry
            action = jax.vmap(lambda t: policy(t, params))(ts)
            state, ts = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(key, num_envs), state, action, params
            )
            alive = ~done
            success = success | (alive & ts.info["success"])
            jams = jams + jnp.where(alive, ts.info["jams"], 0)
            length = length + alive
            return (state, ts, done | ts.done, success, jams, length), None

        z = jnp.zeros(num_envs, jnp.int32)
        init = (state, ts, jnp.zeros(num_envs, bool), jnp.zeros(num_envs, bool), z, z)
        (_, _, _, success, jams, length), _ = jax.lax.scan(body, init, None, length=25)
        return success, jams, length

    return jax.jit(run)


def test_expert_always_succeeds_and_never_jams(env):
    run = _policy_episodes(env, lambda ts, p: expert_action(env, ts.state, p))
    params = env.default_params()
    for bridge_rows in [(1, 3), (0, 4), (2, 3)]:  # a traced parameter: no recompilation
        success, jams, length = run(KEY, params.replace(bridge_rows=jnp.asarray(bridge_rows, jnp.int32)))
        assert bool(jnp.all(success)), bridge_rows
        assert int(jnp.sum(jams)) == 0
        assert int(jnp.max(length)) <= 7  # worst start: 3 rows to climb + 4 columns to cross


def test_expert_beats_conventions(env):
    params = env.default_params()
    expert = _policy_episodes(env, lambda ts, p: env.expert_action(ts.state, p))
    convention = _policy_episodes(env, lambda ts, p: env.convention_action(ts.obs, p))
    # "Both take the top bridge": agents that arrive together jam, and keep jamming.
    top = _policy_episodes(
        env, lambda ts, p: jax.vmap(env.route_action, in_axes=(0, None))(env.decode_state(ts.state)[0],
                                                                         p.bridge_rows[0])
    )
    s_exp, j_exp, l_exp = expert(KEY, params)
    s_conv, j_conv, l_conv = convention(KEY, params)
    s_top, j_top, _ = top(KEY, params)
    # The decentralised convention (agent 0 takes the top bridge) also succeeds, without jams, but slower.
    assert bool(jnp.all(s_conv)) and int(jnp.sum(j_conv)) == 0
    assert float(jnp.mean(l_exp)) < float(jnp.mean(l_conv))
    assert bool(jnp.all(l_exp <= l_conv))
    assert int(jnp.sum(j_top > 0)) > 10 and float(jnp.mean(s_top)) < 0.95
    assert bool(jnp.all(s_top == (j_top == 0)))  # a jammed pair never recovers


# ---- random episodes (shapes, finiteness, determinism, retracing: tests/test_env_contract.py) -----------


def test_random_policy_never_ends_in_water():
    env = envs.make_wrapped("bridge")
    params = env.default_params()
    num_envs, steps = 64, 60  # past the 25-step limit: auto-reset happens

    ts = random_rollout(env, params, KEY, num_envs, steps)
    assert np.asarray(ts.info["episode_done"]).sum() >= num_envs
    # The final state of an episode never has an agent standing in water.
    final = np.asarray(ts.info["final_state"])
    cols = np.round(final[..., [1, 3]] * 6)
    rows = np.round(final[..., [0, 2]] * 4)
    assert not ((cols == 3) & (rows != 1) & (rows != 3)).any()
