"""GAE and PPO losses against plain-Python references, with and without jit (chex variants)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentmixer_jax import losses


def gae_reference(reward, value, bootstrap, last_value, terminated, truncated, gamma, lam):
    T = len(reward)
    adv = np.zeros(T)
    next_adv = 0.0
    for t in reversed(range(T)):
        if terminated[t]:
            next_v = 0.0
        elif truncated[t]:
            next_v = bootstrap[t]
        else:
            next_v = value[t + 1] if t + 1 < T else last_value
        delta = reward[t] + gamma * next_v - value[t]
        done = terminated[t] or truncated[t]
        next_adv = delta + gamma * lam * (0.0 if done else next_adv)
        adv[t] = next_adv
    return adv


class GaeTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_matches_python_loop_with_truncation_and_termination(self):
        rng = np.random.default_rng(0)
        T = 12
        reward = rng.normal(size=T).astype(np.float32)
        value = rng.normal(size=T).astype(np.float32)
        bootstrap = rng.normal(size=T).astype(np.float32) + 5.0  # distinct: must be used only at truncation
        terminated = np.zeros(T, bool)
        truncated = np.zeros(T, bool)
        terminated[3] = True
        truncated[7] = True  # a time limit: must bootstrap from bootstrap[7], not value[8]
        fn = self.variant(losses.gae)
        adv, ret = fn(jnp.asarray(reward), jnp.asarray(value), jnp.asarray(bootstrap), jnp.float32(0.7),
                      jnp.asarray(terminated), jnp.asarray(truncated), 0.9, 0.8)
        want = gae_reference(reward, value, bootstrap, 0.7, terminated, truncated, 0.9, 0.8)
        np.testing.assert_allclose(adv, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ret, want + value, rtol=1e-5, atol=1e-5)

    def test_truncation_bootstraps_from_final_value(self):
        # One step, truncated: advantage = r + gamma * V(final) - V(s); with termination it is r - V(s).
        args = (jnp.array([1.0]), jnp.array([0.5]), jnp.array([2.0]), jnp.float32(-9.0))
        adv_trunc, _ = losses.gae(*args, jnp.array([False]), jnp.array([True]), 0.9, 0.95)
        adv_term, _ = losses.gae(*args, jnp.array([True]), jnp.array([False]), 0.9, 0.95)
        np.testing.assert_allclose(adv_trunc, [1.0 + 0.9 * 2.0 - 0.5], rtol=1e-6)
        np.testing.assert_allclose(adv_term, [1.0 - 0.5], rtol=1e-6)

    def test_per_agent_trailing_axes(self):
        rng = np.random.default_rng(1)
        T, E, N = 6, 3, 2
        r, v, b = (rng.normal(size=(T, E, N)).astype(np.float32) for _ in range(3))
        last = rng.normal(size=(E, N)).astype(np.float32)
        term = rng.random((T, E)) < 0.2
        trunc = (rng.random((T, E)) < 0.2) & ~term
        adv, _ = losses.gae(r, v, b, last, term, trunc, 0.99, 0.95)
        for e in range(E):
            for n in range(N):
                want = gae_reference(r[:, e, n], v[:, e, n], b[:, e, n], last[e, n], term[:, e], trunc[:, e],
                                     0.99, 0.95)
                np.testing.assert_allclose(adv[:, e, n], want, rtol=1e-5, atol=1e-5)

    def test_rejects_mismatched_done_shape(self):
        with pytest.raises(ValueError, match="prefix"):
            losses.gae(jnp.zeros((4, 2)), jnp.zeros((4, 2)), jnp.zeros((4, 2)), jnp.zeros(2),
                       jnp.zeros((4, 3), bool), jnp.zeros((4, 3), bool), 0.9, 0.9)


class PpoLossTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_worked_example(self):
        # ratios: e^0.5 = 1.6487 (clipped to 1.2 for A>0), e^-0.5 = 0.6065 (clipped to 0.8 for A<0), 1.0
        log_prob = jnp.array([0.5, -0.5, 0.0])
        old = jnp.zeros(3)
        adv = jnp.array([2.0, -1.0, 3.0])
        loss, kl, clip_frac = self.variant(losses.ppo_policy_loss)(log_prob, old, adv, 0.2)
        # min(1.6487*2, 1.2*2) = 2.4 ; min(0.6065*-1, 0.8*-1) = -0.8 ; min(3, 3) = 3
        np.testing.assert_allclose(loss, -(2.4 - 0.8 + 3.0) / 3, rtol=1e-5)
        np.testing.assert_allclose(clip_frac, 2 / 3, rtol=1e-6)
        want_kl = np.mean([np.exp(0.5) - 1 - 0.5, np.exp(-0.5) - 1 + 0.5, 0.0])
        np.testing.assert_allclose(kl, want_kl, rtol=1e-5)

    def test_value_loss_clipping(self):
        v, old, target = jnp.array([2.0]), jnp.array([0.0]), jnp.array([3.0])
        # unclipped error (2-3)^2 = 1; clipped value 0.2 -> (0.2-3)^2 = 7.84; max -> 7.84
        np.testing.assert_allclose(losses.value_loss(v, old, target, 0.2, True), 0.5 * 7.84, rtol=1e-6)
        np.testing.assert_allclose(losses.value_loss(v, old, target, 0.2, False), 0.5 * 1.0, rtol=1e-6)


def test_gae_is_jittable_with_traced_gamma():
    f = jax.jit(lambda g: losses.gae(jnp.ones(3), jnp.zeros(3), jnp.zeros(3), jnp.float32(0), jnp.zeros(3, bool),
                                     jnp.zeros(3, bool), g, 1.0)[0])
    np.testing.assert_allclose(f(0.5), [1.75, 1.5, 1.0], rtol=1e-6)
