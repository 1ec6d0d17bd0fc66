"""Matrix games (envs/matrix.py): exact payoff / CE tools on hand-computed cases and the env's behaviour.

Shapes, dtypes, retracing and determinism of every registered task: tests/test_env_contract.py.
"""

from __future__ import annotations

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.matrix import (
    MatrixGame,
    ce_epsilon,
    climbing,
    deviation_gains,
    expected_payoff,
    penalty,
    product_to_joint,
    pure_joint,
)

CLIMBING = np.array([[11.0, -30.0, 0.0], [-30.0, 7.0, 0.0], [0.0, 6.0, 5.0]])

# Chicken: action 0 = dare, 1 = chicken. (D, D) = (0, 0), (D, C) = (7, 2), (C, D) = (2, 7), (C, C) = (6, 6).
CHICKEN = np.array(
    [
        [[0.0, 7.0], [2.0, 6.0]],  # row player's payoff u_0[a_0, a_1]
        [[0.0, 2.0], [7.0, 6.0]],  # column player's payoff u_1[a_0, a_1]
    ]
)


def _brute_expected(payoffs_per_agent: np.ndarray, policies: np.ndarray) -> np.ndarray:
    """Sum over every joint action of prob * payoff (the definition, for cross-checking)."""
    n = payoffs_per_agent.shape[0]
    total = np.zeros(n)
    for a in itertools.product(*(range(k) for k in payoffs_per_agent.shape[1:])):
        prob = np.prod([policies[i, a[i]] for i in range(n)])
        total += prob * payoffs_per_agent[(slice(None), *a)]
    return total


# ---- expected_payoff ------------------------------------------------------------------------------


class TestExpectedPayoff(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_uniform_on_climbing_is_matrix_mean(self):
        uniform = jnp.full((2, 3), 1.0 / 3.0)
        got = self.variant(expected_payoff)(jnp.asarray(CLIMBING), uniform)
        # Sum of entries = 11 - 30 + 0 - 30 + 7 + 0 + 0 + 6 + 5 = -31, so the mean is -31 / 9.
        np.testing.assert_allclose(got, [-31.0 / 9.0] * 2, rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_pure_policy_reads_the_entry(self):
        pure = jnp.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])  # joint action (2, 1)
        got = self.variant(expected_payoff)(jnp.asarray(CLIMBING), pure)
        np.testing.assert_allclose(got, [6.0, 6.0])

    @chex.variants(with_jit=True, without_jit=True)
    def test_mixed_on_one_agent(self):
        # Row plays (1/2, 1/2, 0), column plays action 0: (11 + -30) / 2 = -9.5.
        pol = jnp.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
        got = self.variant(expected_payoff)(jnp.asarray(CLIMBING), pol)
        np.testing.assert_allclose(got, [-9.5, -9.5])

    @chex.variants(with_jit=True, without_jit=True)
    def test_three_agents_per_agent_payoffs(self):
        # Two actions each; u_0 = a0 + a1 + a2, u_1 = a0 * a1 * a2, u_2 = 2 a2 - a0.
        a0, a1, a2 = np.meshgrid(np.arange(2), np.arange(2), np.arange(2), indexing="ij")
        u = np.stack([a0 + a1 + a2, a0 * a1 * a2, 2 * a2 - a0]).astype(np.float32)
        # P(a0 = 1) = 0.5, P(a1 = 1) = 0.25, P(a2 = 1) = 1.
        pol = jnp.array([[0.5, 0.5], [0.75, 0.25], [0.0, 1.0]])
        got = self.variant(expected_payoff)(jnp.asarray(u), pol)
        # E[a0 + a1 + a2] = 1.75, E[a0 a1 a2] = 0.5 * 0.25 * 1 = 0.125, E[2 a2 - a0] = 2 - 0.5 = 1.5.
        np.testing.assert_allclose(got, [1.75, 0.125, 1.5], rtol=1e-6)
        np.testing.assert_allclose(got, _brute_expected(u, np.asarray(pol)), rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_unequal_action_counts_ignore_padding(self):
        rng = np.random.default_rng(0)
        u = rng.normal(size=(3, 2, 3, 4)).astype(np.float32)
        pol = rng.dirichlet(np.ones(4), size=3)
        pol[0, 2:] = 0.0
        pol[0, :2] /= pol[0, :2].sum()
        pol[1, 3:] = 0.0
        pol[1, :3] /= pol[1, :3].sum()
        got = self.variant(expected_payoff)(jnp.asarray(u), jnp.asarray(pol, jnp.float32))
        np.testing.assert_allclose(got, _brute_expected(u, pol), rtol=1e-5, atol=1e-6)


def test_product_to_joint_and_pure_joint():
    pol = jnp.array([[0.25, 0.75, 0.0], [0.5, 0.2, 0.3]])
    joint = product_to_joint(pol, (2, 3))
    chex.assert_shape(joint, (2, 3))
    np.testing.assert_allclose(joint, np.outer([0.25, 0.75], [0.5, 0.2, 0.3]), rtol=1e-6)
    np.testing.assert_allclose(jnp.sum(joint), 1.0, rtol=1e-6)
    # Expected payoff of a product policy = <joint, payoff>.
    u = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(expected_payoff(u, pol), [np.sum(joint * u)] * 2, rtol=1e-6)

    point = jax.jit(pure_joint, static_argnums=1)(jnp.array([1, 2]), (2, 3))
    np.testing.assert_array_equal(point, [[0, 0, 0], [0, 0, 1]])


def test_pure_functions_reject_bad_shapes():
    with pytest.raises(ValueError, match="policies"):
        expected_payoff(CLIMBING, jnp.full((3, 3), 1 / 3))  # 3 rows for a 2-agent game
    with pytest.raises(ValueError, match="columns"):
        expected_payoff(CLIMBING, jnp.full((2, 2), 0.5))  # narrower than 3 actions
    with pytest.raises(ValueError, match="joint"):
        ce_epsilon(CLIMBING, jnp.full((2, 2), 0.25))


# ---- ce_epsilon -----------------------------------------------------------------------------------


class TestCEEpsilon(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_pure_nash_of_climbing_has_zero_epsilon(self):
        eps = self.variant(ce_epsilon)(CLIMBING, pure_joint(jnp.array([0, 0]), (3, 3)))
        np.testing.assert_allclose(eps, 0.0, atol=1e-6)
        eps = self.variant(ce_epsilon)(CLIMBING, pure_joint(jnp.array([1, 1]), (3, 3)))
        np.testing.assert_allclose(eps, 0.0, atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_climbing_2_2_has_epsilon_one(self):
        # At (2, 2) = 5 the row player cannot gain (column 2 is 0, 0, 5), but the column player gains
        # 6 - 5 = 1 by switching to action 1 (row 2 is 0, 6, 5).
        eps = self.variant(ce_epsilon)(CLIMBING, pure_joint(jnp.array([2, 2]), (3, 3)))
        np.testing.assert_allclose(eps, 1.0, atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_uniform_joint_on_climbing(self):
        # joint = 1/9 everywhere. Row recommended a, deviating to b, gains (rowsum(b) - rowsum(a)) / 9.
        # Row sums: -19, -23, 11  -> best (11 - (-23)) / 9 = 34 / 9.
        # Column sums: -19, -17, 5 -> best (5 - (-19)) / 9 = 24 / 9.
        # So epsilon = 34 / 9.
        eps = self.variant(ce_epsilon)(CLIMBING, jnp.full((3, 3), 1.0 / 9.0))
        np.testing.assert_allclose(eps, 34.0 / 9.0, rtol=1e-6)
        gains = deviation_gains(CLIMBING, jnp.full((3, 3), 1.0 / 9.0))
        np.testing.assert_allclose(gains[0][1, 2], 34.0 / 9.0, rtol=1e-6)
        np.testing.assert_allclose(gains[1][0, 2], 24.0 / 9.0, rtol=1e-6)
        np.testing.assert_allclose(jnp.diagonal(gains[0]), 0.0, atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_chicken_correlated_equilibrium(self):
        # The traffic-light CE: 1/3 on each of (D, C), (C, D), (C, C), 0 on (D, D).
        # Row told C: (C, C) and (C, D) w.p. 1/3 each: obey 6/3 + 2/3 = 8/3 >= deviate 7/3 + 0 = 7/3.
        # Row told D: only (D, C): obey 7/3 >= deviate 6/3. Symmetric for the column player.
        joint = jnp.array([[0.0, 1 / 3], [1 / 3, 1 / 3]])
        np.testing.assert_allclose(self.variant(ce_epsilon)(CHICKEN, joint), 0.0, atol=1e-6)
        # Not a CE: always (C, C); either player gains 7 - 6 = 1 by daring.
        cc = pure_joint(jnp.array([1, 1]), (2, 2))
        np.testing.assert_allclose(self.variant(ce_epsilon)(CHICKEN, cc), 1.0, atol=1e-6)
        # The product of the mixed Nash (2/3 C each) is also a CE, hence epsilon 0.
        mixed = product_to_joint(jnp.array([[1 / 3, 2 / 3], [1 / 3, 2 / 3]]))
        np.testing.assert_allclose(self.variant(ce_epsilon)(CHICKEN, mixed), 0.0, atol=1e-5)


# ---- env conformance ------------------------------------------------------------------------------


def _check_timestep(env, ts):
    spec = env.spec(env.default_params())
    n = spec.num_agents
    chex.assert_shape(ts.obs, (n, spec.obs_dim))
    chex.assert_shape(ts.state, (spec.state_dim,))
    chex.assert_shape(ts.action_mask, (n, spec.action_dim))
    chex.assert_shape(ts.reward, (n,))
    chex.assert_shape([ts.terminated, ts.truncated], ())
    assert ts.obs.dtype == jnp.float32 and ts.state.dtype == jnp.float32
    assert ts.reward.dtype == jnp.float32
    assert ts.action_mask.dtype == jnp.bool_
    assert ts.terminated.dtype == jnp.bool_ and ts.truncated.dtype == jnp.bool_
    assert set(ts.info) == {"payoff", "optimal", "ce_epsilon"}
    assert ts.info["payoff"].dtype == jnp.float32 and ts.info["payoff"].shape == ()
    assert ts.info["ce_epsilon"].dtype == jnp.float32 and ts.info["ce_epsilon"].shape == ()
    assert ts.info["optimal"].dtype == jnp.bool_ and ts.info["optimal"].shape == ()


def test_one_step_climbing_every_joint_action():
    env = climbing()
    params = env.default_params()
    spec = env.spec(params)
    assert (spec.num_agents, spec.action_dim, spec.obs_dim) == (2, 3, 1)
    assert env.name == "climbing"
    np.testing.assert_allclose(env.optimal_value(params), 11.0)
    step = jax.jit(env.step)
    state, ts = env.reset(jax.random.key(0), params)
    _check_timestep(env, ts)
    assert not ts.terminated and not ts.truncated
    np.testing.assert_array_equal(ts.obs, np.ones((2, 1)))
    np.testing.assert_array_equal(ts.state, np.zeros(7))
    for a0, a1 in itertools.product(range(3), range(3)):
        _, out = step(jax.random.key(1), state, jnp.array([a0, a1], jnp.int32), params)
        _check_timestep(env, out)
        np.testing.assert_allclose(out.reward, [CLIMBING[a0, a1]] * 2)
        np.testing.assert_allclose(out.info["payoff"], CLIMBING[a0, a1])
        assert bool(out.info["optimal"]) == ((a0, a1) == (0, 0))
        want_eps = ce_epsilon(CLIMBING, pure_joint(jnp.array([a0, a1]), (3, 3)))
        np.testing.assert_allclose(out.info["ce_epsilon"], want_eps, atol=1e-6)
        assert bool(out.terminated) and not bool(out.truncated)
        np.testing.assert_array_equal(out.state[:6], np.eye(3)[a0].tolist() + np.eye(3)[a1].tolist())


def test_penalty_preset_and_payoff_scale():
    env = penalty(k=50, payoff_scale=0.1)
    params = env.default_params()
    np.testing.assert_allclose(env.optimal_value(params), 10.0)
    state, _ = env.reset(jax.random.key(0), params)
    _, ts = env.step(jax.random.key(0), state, jnp.array([0, 0]), params)
    np.testing.assert_allclose(ts.reward, [-5.0, -5.0], rtol=1e-6)  # scaled reward
    np.testing.assert_allclose(ts.info["payoff"], -50.0)  # diagnostics in game units
    _, ts = env.step(jax.random.key(0), state, jnp.array([2, 0]), params)
    assert bool(ts.info["optimal"])


def test_unequal_action_counts_masks_and_per_agent_rewards():
    rng = np.random.default_rng(1)
    u = rng.integers(-5, 5, size=(3, 2, 4, 3)).astype(np.float32)
    env = MatrixGame(u, obs_mode="last_action")
    params = env.default_params()
    spec = env.spec(params)
    assert spec.action_dim == 4 and spec.obs_dim == 2 + 4 + 3 and spec.state_dim == 10
    state, ts = env.reset(jax.random.key(0), params)
    _check_timestep(env, ts)
    np.testing.assert_array_equal(
        ts.action_mask, [[True, True, False, False], [True] * 4, [True, True, True, False]]
    )
    np.testing.assert_array_equal(ts.obs, np.zeros((3, 9)))  # no action played yet
    _, ts = env.step(jax.random.key(1), state, jnp.array([1, 3, 0]), params)
    np.testing.assert_allclose(ts.reward, u[:, 1, 3, 0])
    np.testing.assert_allclose(ts.info["payoff"], u[:, 1, 3, 0].mean(), rtol=1e-6)
    want_obs = np.concatenate([np.eye(2)[1], np.eye(4)[3], np.eye(3)[0]])
    np.testing.assert_array_equal(ts.obs, np.broadcast_to(want_obs, (3, 9)))
    np.testing.assert_allclose(
        ts.info["ce_epsilon"], ce_epsilon(u, pure_joint(jnp.array([1, 3, 0]), (2, 4, 3))), atol=1e-6
    )
    # The per-agent layout is inferred ((3, A, B, C) with first axis = number of other axes); the
    # same tensor read as a team game needs num_agents.
    assert MatrixGame(u, num_agents=4).num_agents == 4


def test_repeated_game_last_action_observations():
    env = climbing(episode_length=3, obs_mode="last_action")
    params = env.default_params()
    spec = env.spec(params)
    assert spec.obs_dim == 3 + 3 + 1  # joint one-hot + time fraction
    step = jax.jit(env.step)
    state, ts = env.reset(jax.random.key(0), params)
    np.testing.assert_array_equal(ts.obs, np.zeros((2, 7)))
    actions = [(0, 0), (1, 2), (2, 1)]
    for t, (a0, a1) in enumerate(actions, start=1):
        state, ts = step(jax.random.key(t), state, jnp.array([a0, a1]), params)
        _check_timestep(env, ts)
        want = np.concatenate([np.eye(3)[a0], np.eye(3)[a1], [t / 3]])
        np.testing.assert_allclose(ts.obs, np.broadcast_to(want, (2, 7)), rtol=1e-6)
        np.testing.assert_allclose(ts.state, want, rtol=1e-6)
        np.testing.assert_allclose(ts.reward, [CLIMBING[a0, a1]] * 2)
        assert bool(ts.terminated) == (t == 3)
        assert not bool(ts.truncated)


def test_constant_obs_with_time_in_repeated_game():
    env = climbing(episode_length=2)
    params = env.default_params()
    state, ts = env.reset(jax.random.key(0), params)
    np.testing.assert_allclose(ts.obs, [[1.0, 0.0]] * 2)
    state, ts = env.step(jax.random.key(0), state, jnp.array([1, 1]), params)
    np.testing.assert_allclose(ts.obs, [[1.0, 0.5]] * 2)
    assert not bool(ts.terminated)


def test_params_vmap_over_payoffs():
    env = penalty()
    base = env.default_params()
    ks = jnp.array([0.0, 10.0, 100.0])
    payoffs = jnp.stack([penalty(k=float(k)).default_params().payoffs for k in ks])
    batched = base.replace(payoffs=payoffs, payoff_scale=jnp.ones(3))

    def play(params):
        state, _ = env.reset(jax.random.key(0), params)
        _, ts = env.step(jax.random.key(0), state, jnp.array([0, 0]), params)
        return ts.reward[0], env.optimal_value(params)

    rewards, optimum = jax.jit(jax.vmap(play))(batched)
    np.testing.assert_allclose(rewards, -ks)
    np.testing.assert_allclose(optimum, [10.0, 10.0, 10.0])


def test_wrapped_vmapped_episode_stats_return_equals_payoff():
    env = envs.make_wrapped("climbing")
    params = env.default_params()
    num_envs = 8
    keys = jax.random.split(jax.random.key(0), num_envs)
    state, ts = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    key = jax.random.key(1)
    for _ in range(4):
        key, k_act, k_step = jax.random.split(key, 3)
        actions = jax.random.randint(k_act, (num_envs, 2), 0, 3)
        state, ts = step(jax.random.split(k_step, num_envs), state, actions, params)
        payoff = jnp.asarray(CLIMBING)[actions[:, 0], actions[:, 1]]
        assert bool(jnp.all(ts.info["episode_done"]))
        np.testing.assert_allclose(ts.info["episode"]["return"], payoff)
        np.testing.assert_allclose(ts.info["episode"]["length"], 1.0)
        np.testing.assert_allclose(ts.info["episode"]["payoff"], payoff)
        np.testing.assert_allclose(ts.info["episode"]["optimal"], (payoff == 11.0).astype(np.float32))
        # Auto-reset: the next episode starts from the initial observation and state.
        np.testing.assert_array_equal(ts.obs, np.ones((num_envs, 2, 1)))
        np.testing.assert_array_equal(ts.state, np.zeros((num_envs, 7)))
    # The env's helpers stay reachable through the wrappers.
    np.testing.assert_allclose(env.optimal_value(params), 11.0)


def test_wrapped_repeated_game_return_sums_payoffs():
    env = envs.make_wrapped("climbing", episode_length=3)
    params = env.default_params()
    state, _ = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    for t, a in enumerate([(1, 1), (2, 1), (0, 0)], start=1):
        state, ts = step(jax.random.key(t), state, jnp.array(a), params)
        assert bool(ts.info["episode_done"]) == (t == 3)
    np.testing.assert_allclose(ts.info["episode"]["return"], 7.0 + 6.0 + 11.0)
    np.testing.assert_allclose(ts.info["episode"]["length"], 3.0)
    np.testing.assert_allclose(ts.info["episode"]["reward_per_step"], (7.0 + 6.0 + 11.0) / 3.0)


def test_episode_reward_per_step_is_team_return_over_length():
    """EpisodeStats' reward_per_step, by hand: per-agent payoffs (agent 0 gets a0 + 2 a1, agent 1 gets 10), a
    4-step episode with joint actions (0, 0), (1, 0), (0, 1), (1, 1): agent 0 earns 0 + 1 + 2 + 3 = 6, agent 1
    earns 40, team return (mean over agents) 23, length 4, reward per step 23 / 4 = 5.75."""
    payoffs = [[[0.0, 2.0], [1.0, 3.0]], [[10.0, 10.0], [10.0, 10.0]]]  # (N, A_0, A_1)
    env = envs.make_wrapped("matrix", payoffs=payoffs, episode_length=4)
    params = env.default_params()
    state, ts = env.reset(jax.random.key(0), params)
    assert float(ts.info["episode"]["reward_per_step"]) == 0.0  # no episode finished yet
    step = jax.jit(env.step)
    for t, a in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)], start=1):
        state, ts = step(jax.random.key(t), state, jnp.array(a), params)
        assert bool(ts.info["episode_done"]) == (t == 4)
    episode = ts.info["episode"]
    np.testing.assert_allclose(episode["return"], 23.0)
    np.testing.assert_allclose(episode["length"], 4.0)
    np.testing.assert_allclose(episode["reward_per_step"], 5.75)


# ---- errors ---------------------------------------------------------------------------------------


def test_registry_and_bad_inputs():
    with pytest.raises(ValueError, match="climbing"):
        envs.make("climbng")
    assert isinstance(envs.make("matrix", payoffs=[[1.0, 0.0], [0.0, 1.0]]), MatrixGame)
    with pytest.raises(ValueError, match="payoffs"):
        MatrixGame(3.0)  # no axes
    with pytest.raises(ValueError, match="payoffs"):
        MatrixGame(np.zeros((2, 3, 3)), num_agents=4)  # fits neither layout
    with pytest.raises(ValueError, match="payoffs"):
        MatrixGame([[1.0, np.nan]])
    with pytest.raises(ValueError, match="episode_length"):
        climbing(episode_length=0)
    with pytest.raises(ValueError, match="obs_mode"):
        climbing(obs_mode="pixels")
    env = climbing()
    params = env.default_params()
    state, _ = env.reset(jax.random.key(0), params)
    with pytest.raises(ValueError, match="shape"):
        env.step(jax.random.key(0), state, jnp.array([0, 1, 2]), params)
    with pytest.raises(ValueError, match="integer"):
        env.step(jax.random.key(0), state, jnp.array([0.0, 1.0]), params)
    with pytest.raises(ValueError, match="params.payoffs"):
        env.step(jax.random.key(0), state, jnp.array([0, 1]), params.replace(payoffs=jnp.zeros((2, 2, 2))))
