"""Predator-prey (envs/predator_prey.py): hand-built states for every rule, plus API conformance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.predator_prey import PredatorPrey, PredatorPreyState
from tests.rollouts import random_rollout

D, L, U, R, N = 0, 1, 2, 3, 4  # down (row + 1), left, up (row - 1), right, no-op


@pytest.fixture(scope="module")
def env():
    return PredatorPrey()


@pytest.fixture(scope="module")
def step(env):
    return jax.jit(env.step)


@pytest.fixture(scope="module")
def step_many_keys(env):
    """One state and action, a batch of keys (the prey's randomness)."""
    return jax.jit(jax.vmap(env.step, in_axes=(0, None, None, None)))


def _state(pred, prey, alive=None, t=0, misses=0):
    prey = np.asarray(prey, np.int32)
    alive = np.ones(len(prey), bool) if alive is None else np.asarray(alive)
    return PredatorPreyState(
        predator_pos=jnp.asarray(pred, jnp.int32),
        prey_pos=jnp.asarray(prey),
        prey_alive=jnp.asarray(alive),
        t=jnp.asarray(t, jnp.int32),
        misses=jnp.asarray(misses, jnp.int32),
    )


def _act(*a):
    return jnp.asarray(a, jnp.int32)


KEY = jax.random.PRNGKey(0)


# ---- rules on hand-built states -------------------------------------------------------------------


def test_capture_two_adjacent(env, step):
    params = env.default_params()
    # Predator 0 steps down from (0, 2) to (1, 2); predator 1 already sits at (2, 1) beside the prey (2, 2).
    s, ts = step(KEY, _state([[0, 2], [2, 1]], [[2, 2]]), _act(D, N), params)
    np.testing.assert_array_equal(s.predator_pos, [[1, 2], [2, 1]])
    assert not bool(s.prey_alive[0])
    np.testing.assert_allclose(ts.reward, [5.0 - 0.01] * 2, rtol=1e-6)
    assert bool(ts.terminated) and not bool(ts.truncated)
    assert float(ts.info["captured"]) == 1.0 and int(ts.info["miscoordinations"]) == 0
    # The caught prey is gone from the global state's prey grid and alive flags.
    g = env.grid_size
    prey_grid = ts.state[2 * 2 + g * g : 2 * 2 + 2 * g * g]
    assert float(prey_grid.sum()) == 0.0 and float(ts.state[-2]) == 0.0


def test_capture_with_three_adjacent_also_counts(env, step):
    env3 = PredatorPrey(num_predators=3)
    s, ts = jax.jit(env3.step)(
        KEY, _state([[1, 2], [2, 1], [3, 2]], [[2, 2]]), _act(N, N, N), env3.default_params()
    )
    assert bool(ts.terminated) and float(ts.reward[0]) == pytest.approx(4.99)


@pytest.mark.parametrize("name,p", [("predator_prey_p0", 0.0), ("predator_prey_p05", -0.5),
                                    ("predator_prey_p1", -1.0), ("predator_prey_p15", -1.5),
                                    ("predator_prey", -0.5)])
def test_presets_penalty(name, p):
    env = envs.make(name)
    assert float(env.default_params().penalty) == p
    assert env.spec(env.default_params()).num_agents == 2


AUTHORS = [("predator_prey_authors_p0", 0.0), ("predator_prey_authors_p1", -1.0),
           ("predator_prey_authors_p15", -1.5)]


@pytest.mark.parametrize("name,p", AUTHORS)
def test_authors_presets_capture_reward_penalty_and_limit(name, p):
    """The authors' setting (their predator_prey.py at dbe9688): capture pays 10, P as named, 128 steps; checked
    on hand-built states (capture, a miscoordination) and at the time limit (step 127 goes on, step 128 truncates)."""
    env = envs.make(name)
    params = env.default_params()
    assert float(params.capture_reward) == 10.0 and float(params.penalty) == p and int(params.max_steps) == 128
    step = jax.jit(env.step)
    _, ts = step(KEY, _state([[1, 2], [2, 1]], [[2, 2]]), _act(N, N), params)  # both adjacent: caught
    np.testing.assert_allclose(ts.reward, [10.0 - 0.01] * 2, rtol=1e-6)
    assert bool(ts.terminated) and not bool(ts.truncated)
    _, ts = step(KEY, _state([[1, 2], [4, 4]], [[2, 2]]), _act(N, N), params)  # one adjacent: P
    np.testing.assert_allclose(ts.reward, [p - 0.01] * 2, rtol=1e-6, atol=1e-7)
    far = ([[0, 0], [4, 4]], [[2, 2]])
    for t, truncated in ((126, False), (127, True)):
        _, ts = step(KEY, _state(*far, t=t), _act(N, N), params)
        assert bool(ts.truncated) == truncated and not bool(ts.terminated)
    # Other arguments still pass through; an explicit one overrides the authors' value.
    assert int(envs.make(name, max_steps=50).default_params().max_steps) == 50


@pytest.mark.slow  # ~5 s, mostly compiling the wrapped env; the fast suite checks the limit on hand-built states
def test_authors_episode_truncates_at_exactly_128_steps():
    """Wrapped as the trainer does: predators that never move never meet the prey (it starts and stays outside
    their neighbourhood), so every episode is 128 steps of step cost, ends truncated at step 128 exactly, and
    EpisodeStats reports length 128, return -1.28 and reward_per_step -0.01."""
    env = envs.make_wrapped("predator_prey_authors_p1")
    params = env.default_params()
    num_envs, steps = 4, 130

    @jax.jit
    def run(key):
        state, _ = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)
        noop = jnp.full((num_envs, 2), N, jnp.int32)

        def body(state, k):
            state, ts = jax.vmap(env.step, in_axes=(0, 0, 0, None))(jax.random.split(k, num_envs), state, noop,
                                                                    params)
            return state, ts

        return jax.lax.scan(body, state, jax.random.split(jax.random.fold_in(key, 1), steps))[1]

    ts = run(jax.random.PRNGKey(7))
    done = np.asarray(ts.info["episode_done"])  # (T, E)
    want = np.zeros((steps, num_envs), bool)
    want[127] = True  # the 128th step
    np.testing.assert_array_equal(done, want)
    np.testing.assert_array_equal(np.asarray(ts.truncated), want)
    assert not np.asarray(ts.terminated).any()
    episode = jax.tree.map(lambda x: np.asarray(x[127]), ts.info["episode"])
    np.testing.assert_array_equal(episode["length"], [128.0] * num_envs)
    np.testing.assert_allclose(episode["return"], [-1.28] * num_envs, rtol=1e-5)
    np.testing.assert_allclose(episode["reward_per_step"], [-0.01] * num_envs, rtol=1e-5)
    np.testing.assert_array_equal(episode["miscoordinations"], [0.0] * num_envs)


@pytest.mark.parametrize("name", [name for name, _ in AUTHORS])
def test_authors_training_presets(name):
    """One 128-step rollout of 32 envs per update (an episode), 2 minibatches dividing the batch, ~1M steps."""
    from experiments.presets import preset

    cfg, _ = preset(name, "mappo")
    cfg.validate()
    assert (cfg.num_envs, cfg.num_steps, cfg.num_minibatches) == (32, 128, 2)
    assert cfg.batch_size % cfg.num_minibatches == 0
    assert cfg.num_updates == 244 and cfg.num_updates * cfg.batch_size == 999_424


def test_miscoordination_penalty_swept_by_vmap(env, step):
    """One predator adjacent: the team pays P, the prey survives; P is a vmappable parameter."""
    state = _state([[1, 2], [4, 4]], [[2, 2]])
    base = env.default_params()
    ps = jnp.array([0.0, -0.5, -1.0, -1.5])
    params = jax.vmap(lambda p: base.replace(penalty=p))(ps)
    s, ts = jax.jit(jax.vmap(env.step, in_axes=(None, None, None, 0)))(KEY, state, _act(N, N), params)
    np.testing.assert_allclose(ts.reward[:, 0], ps - 0.01, rtol=1e-6)
    assert bool(jnp.all(s.prey_alive)) and not bool(jnp.any(ts.terminated))
    np.testing.assert_array_equal(ts.info["miscoordinations"], [1, 1, 1, 1])
    np.testing.assert_array_equal(ts.info["captured"], [0.0] * 4)


def test_miscoordinations_add_up_over_the_episode(env, step):
    """The info counts the episode's penalties so far, so EpisodeStats (last-step values) reports the
    episode total; the per-step reward still charges P once per step."""
    params = env.default_params()
    s, ts = step(KEY, _state([[1, 2], [4, 4]], [[2, 2]], misses=3), _act(N, N), params)
    assert int(ts.info["miscoordinations"]) == 4 and int(s.misses) == 4
    np.testing.assert_allclose(ts.reward, [params.penalty - 0.01] * 2, rtol=1e-6)
    s, ts = step(KEY, _state([[0, 0], [4, 4]], [[2, 2]], misses=3), _act(N, N), params)
    assert int(ts.info["miscoordinations"]) == 3
    s, ts = jax.jit(env.reset)(KEY, params)
    assert int(s.misses) == 0 and int(ts.info["miscoordinations"]) == 0


def test_step_cost_only_when_nobody_adjacent(env, step):
    s, ts = step(KEY, _state([[0, 0], [4, 4]], [[2, 2]]), _act(N, N), env.default_params())
    np.testing.assert_allclose(ts.reward, [-0.01, -0.01], rtol=1e-6)
    assert int(ts.info["miscoordinations"]) == 0


def test_moves_into_occupied_cells_fail(env, step):
    params = env.default_params()
    prey = [[0, 0]]  # out of the way (no predator adjacent in any case below)
    # Into a standing predator.
    s, _ = step(KEY, _state([[2, 2], [2, 3]], prey), _act(R, N), params)
    np.testing.assert_array_equal(s.predator_pos, [[2, 2], [2, 3]])
    # Lower index moves first: predator 0 cannot follow predator 1 into the cell it is leaving ...
    s, _ = step(KEY, _state([[2, 2], [2, 3]], prey), _act(R, R), params)
    np.testing.assert_array_equal(s.predator_pos, [[2, 2], [2, 4]])
    # ... but predator 1 can follow predator 0.
    s, _ = step(KEY, _state([[2, 3], [2, 2]], prey), _act(R, R), params)
    np.testing.assert_array_equal(s.predator_pos, [[2, 4], [2, 3]])
    # Swapping is impossible; two predators aiming at one cell: the lower index gets it.
    s, _ = step(KEY, _state([[2, 2], [2, 3]], prey), _act(R, L), params)
    np.testing.assert_array_equal(s.predator_pos, [[2, 2], [2, 3]])
    s, _ = step(KEY, _state([[2, 2], [2, 4]], prey), _act(R, L), params)
    np.testing.assert_array_equal(s.predator_pos, [[2, 3], [2, 4]])
    # Into the prey's cell.
    s, _ = step(KEY, _state([[4, 4], [0, 4]], [[3, 4]]), _act(U, N), params)
    np.testing.assert_array_equal(s.predator_pos[0], [4, 4])


def test_walls(env, step):
    params = env.default_params()
    for a0, a1 in [(U, D), (L, R)]:
        s, _ = step(KEY, _state([[0, 0], [4, 4]], [[2, 2]]), _act(a0, a1), params)
        np.testing.assert_array_equal(s.predator_pos, [[0, 0], [4, 4]])


def test_prey_never_moves_next_to_a_predator(env, step_many_keys):
    params = env.default_params()
    state = _state([[0, 2], [4, 2]], [[2, 2]])
    keys = jax.random.split(KEY, 256)
    s, _ = step_many_keys(keys, state, _act(N, N), params)
    prey = np.asarray(s.prey_pos[:, 0])
    pred = np.array([[0, 2], [4, 2]])
    dist = np.abs(prey[:, None] - pred[None]).sum(-1)
    assert (dist >= 2).all()
    assert len({tuple(p) for p in prey}) > 1  # it does move at random


def test_prey_stays_without_a_safe_move(env, step_many_keys):
    # Prey in the corner, one predator beside it, the other guarding (1, 0): no safe move, it stays.
    params = env.default_params()
    state = _state([[0, 1], [2, 0]], [[0, 0]])
    keys = jax.random.split(KEY, 256)
    s, ts = step_many_keys(keys, state, _act(N, N), params)
    np.testing.assert_array_equal(s.prey_pos[:, 0], np.zeros((256, 2)))
    assert bool(jnp.all(ts.info["miscoordinations"] == 1))


def test_observation_layout(env, step):
    params = env.default_params()
    _, ts = step(KEY, _state([[0, 0], [4, 4]], [[1, 2]]), _act(N, N), params)
    # the prey may have moved; read it back from the global state
    obs, g = np.asarray(ts.obs), env.grid_size
    assert obs.shape == (2, 28) and ts.state.shape == (2 * 2 + 2 * g * g + 1 + 1,)
    np.testing.assert_allclose(obs[:, :2], [[0, 0], [1, 1]])
    np.testing.assert_allclose(obs[:, -1], [1 / 100] * 2)
    prey_grid = np.asarray(ts.state[4 + g * g : 4 + 2 * g * g]).reshape(g, g)
    (pr, pc), = np.argwhere(prey_grid == 1)
    for i, (r, c) in enumerate([(0, 0), (4, 4)]):
        window = obs[i, 2:27].reshape(5, 5)
        want = np.zeros((5, 5))
        if abs(pr - r) <= 2 and abs(pc - c) <= 2:
            want[pr - r + 2, pc - c + 2] = 1
        np.testing.assert_array_equal(window, want)
    pred_grid = np.asarray(ts.state[4 : 4 + g * g]).reshape(g, g)
    assert pred_grid[0, 0] == 1 and pred_grid[4, 4] == 1 and pred_grid.sum() == 2


def test_observe_predators_appends_every_predators_position():
    """observe_predators=True: each agent's observation ends with every predator's (row, col) / (G - 1), the same
    for each agent; the rest of the observation is the default layout."""
    plain, full = PredatorPrey(num_predators=3), PredatorPrey(num_predators=3, observe_predators=True)
    assert full.obs_dim == plain.obs_dim + 6 == full.spec().obs_dim
    state = _state([[0, 0], [4, 4], [2, 1]], [[1, 2]])
    a = np.asarray(plain._timestep(state, plain.default_params(), jnp.zeros(3), False, False, {}).obs)
    b = np.asarray(full._timestep(state, full.default_params(), jnp.zeros(3), False, False, {}).obs)
    assert b.shape == (3, full.obs_dim)
    np.testing.assert_array_equal(b[:, : plain.obs_dim], a)
    np.testing.assert_allclose(b[:, plain.obs_dim :], np.tile([[0, 0, 1, 1, 0.5, 0.25]], (3, 1)))
    assert envs.make("predator_prey_authors_p1", observe_predators=True).obs_dim == 28 + 4


def test_window_sees_prey_at_known_offset(env):
    # Predator 0 at (0, 0), prey at (1, 2): window index [1 + 2, 2 + 2] = [3, 4] (observed at reset-like
    # timestep construction, before the prey could move).
    state = _state([[0, 0], [4, 4]], [[1, 2]])
    ts = env._timestep(state, env.default_params(), jnp.zeros(2), False, False, {})
    window = np.asarray(ts.obs[0, 2:27]).reshape(5, 5)
    assert window[3, 4] == 1 and window.sum() == 1
    assert float(ts.obs[1, 2:27].sum()) == 0.0  # (4, 4) is 3 rows away: out of view


def test_reset_and_action_mask(env):
    params = env.default_params()
    s, ts = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(jax.random.split(KEY, 128), params)
    assert ts.action_mask.shape == (128, 2, 5) and bool(jnp.all(ts.action_mask))
    pred, prey = np.asarray(s.predator_pos), np.asarray(s.prey_pos)
    assert (pred[:, 0] != pred[:, 1]).any(-1).all()  # distinct cells
    assert (np.abs(prey[:, :1] - pred).sum(-1) >= 2).all()  # prey starts outside every neighbourhood
    assert not bool(jnp.any(ts.done)) and bool(jnp.all(ts.reward == 0))


def test_truncation_at_step_limit(env, step):
    params = env.default_params()
    _, ts = step(KEY, _state([[0, 0], [4, 4]], [[2, 2]], t=99), _act(N, N), params)
    assert bool(ts.truncated) and not bool(ts.terminated)
    _, ts = step(KEY, _state([[0, 0], [4, 4]], [[2, 2]], t=98), _act(N, N), params)
    assert not bool(ts.truncated)


def test_multi_prey_episode_ends_only_when_all_caught():
    env = envs.make("predator_prey", grid_size=7, num_predators=4, num_prey=2)
    params = env.default_params()
    assert env.spec(params).obs_dim == 28 and env.spec(params).state_dim == 2 * 4 + 2 * 49 + 2 + 1
    state = _state([[1, 2], [2, 1], [6, 6], [6, 0]], [[2, 2], [4, 4]])
    step = jax.jit(env.step)
    s, ts = step(KEY, state, _act(N, N, N, N), params)
    np.testing.assert_array_equal(s.prey_alive, [False, True])
    assert not bool(ts.terminated) and float(ts.info["captured"]) == 0.5
    state = _state([[1, 2], [2, 1], [3, 4], [4, 3]], [[2, 2], [4, 4]])
    _, ts = step(KEY, state, _act(N, N, N, N), params)
    assert bool(ts.terminated) and float(ts.reward[0]) == pytest.approx(2 * 5.0 - 0.01)


# ---- random episodes (shapes, finiteness, determinism, retracing: tests/test_env_contract.py) -----------


def test_random_policy_observations_and_captured_in_range():
    env = envs.make_wrapped("predator_prey")
    params = env.default_params()
    num_envs, steps = 64, 120  # past the 100-step limit: auto-reset happens

    ts = random_rollout(env, params, KEY, num_envs, steps)
    assert bool(jnp.all((ts.obs >= 0) & (ts.obs <= 1)))
    done = np.asarray(ts.info["episode_done"])
    assert done.sum() >= num_envs  # every env finished at least one episode (truncation at 100)
    captured = np.asarray(ts.info["episode"]["captured"])[done]
    assert ((captured >= 0) & (captured <= 1)).all()
