"""AIL: the expert acts and is trained by PPO; the individual policies only imitate it (KL)."""

import dataclasses

import distrax
import jax
import jax.numpy as jnp
import numpy as np

import envs
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.policies.ail import categorical_kl, diag_normal_kl
from agentmixer_jax.registry import make_policy
from agentmixer_jax.trainer import make_train
from envs.core import Box, Discrete, EnvSpec


def test_categorical_kl_by_hand_and_masked_actions():
    p = jnp.array([[0.0, 1.0, -1e9], [2.0, 0.0, 0.0]])
    q = jnp.array([[1.0, 0.0, -1e9], [0.0, 0.0, 0.0]])
    pp = np.exp(np.array([0.0, 1.0])) / np.exp(np.array([0.0, 1.0])).sum()
    qq = pp[::-1]
    want0 = np.sum(pp * np.log(pp / qq))
    p1 = np.exp([2.0, 0, 0]) / np.exp([2.0, 0, 0]).sum()
    want1 = np.sum(p1 * np.log(p1 / (np.ones(3) / 3)))
    np.testing.assert_allclose(categorical_kl(p, q), [want0, want1], rtol=1e-5)
    np.testing.assert_allclose(categorical_kl(p, p), [0.0, 0.0], atol=1e-6)


def test_diag_normal_kl_matches_distrax_on_owned_dimensions():
    mu_p, mu_q = jnp.array([[0.1, 5.0], [0.3, -0.2]]), jnp.array([[0.4, -7.0], [0.0, 0.2]])
    ls_p, ls_q = jnp.array([[-0.5, 3.0], [0.1, -1.0]]), jnp.array([[0.2, -2.0], [-0.3, 0.0]])
    mask = jnp.array([[True, False], [True, True]])  # agent 0's second dimension is padding
    got = diag_normal_kl(mu_p, ls_p, mu_q, ls_q, mask)
    kl = distrax.Normal(mu_p, jnp.exp(ls_p)).kl_divergence(distrax.Normal(mu_q, jnp.exp(ls_q)))
    np.testing.assert_allclose(got, [kl[0, 0], kl[1, 0] + kl[1, 1]], rtol=1e-5)


def _setup(space):
    spec = EnvSpec(num_agents=2, obs_dim=3, state_dim=6, action_space=space)
    algo = make_policy("ail", spec, TrainConfig(algo="ail"))
    params = algo.init(jax.random.PRNGKey(0))
    # give every head random weights so the expert and the individuals disagree
    params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.PRNGKey(p.size), p.shape), params)
    obs = jax.random.normal(jax.random.PRNGKey(1), (2, 3))
    state = jax.random.normal(jax.random.PRNGKey(2), (6,))
    return algo, params, obs, state


def test_expert_acts_and_only_the_kl_trains_the_individual_policies():
    for space in (Discrete(4), Box(-1.0, 1.0, 3)):
        algo, params, obs, state = _setup(space)
        hp = HParams().as_floats()
        mask = jnp.ones((2, algo.action_dim), bool)
        if algo.discrete:
            mask = mask.at[1, 3].set(False)

        _, out0 = algo.actor_step(params, algo.initial_hidden(), obs, mask, jnp.bool_(True))
        step = algo.act(params, out0, state, mask, jax.random.PRNGKey(5), hp)  # the stored rollout action

        def loss(p, part):
            _, out = algo.actor_step(p, algo.initial_hidden(), obs, mask, jnp.bool_(True))
            log_prob, entropy, aux, metrics = algo.evaluate(p, out, state, mask, step.action, step.extras, hp)
            return jnp.sum(log_prob) + jnp.sum(entropy) if part == "ppo" else aux

        g_ppo = jax.grad(loss)(params, "ppo")
        g_kl = jax.grad(loss)(params, "kl")
        norm = lambda tree: float(sum(jnp.sum(x**2) for x in jax.tree.leaves(tree)))
        # the PPO terms (log-prob and entropy of the behaviour policy) reach the expert only
        assert norm(g_ppo["expert"]) > 0 and norm(g_ppo["actor"]) == 0
        # the imitation KL reaches the individual policies only (the expert is its fixed target)
        assert norm(g_kl["actor"]) > 0 and norm(g_kl["expert"]) == 0
        if not algo.discrete:
            assert norm(g_kl["log_std"]) > 0 and norm(g_kl["expert_log_std"]) == 0
        # the behaviour log-prob is the expert's, and masked actions are never taken
        _, out = algo.actor_step(params, algo.initial_hidden(), obs, mask, jnp.bool_(True))
        for k in range(10):
            step = algo.act(params, out, state, mask, jax.random.PRNGKey(10 + k), hp)
            head = algo.expert_head(params, state, mask)
            want, _ = algo.expert_log_prob_entropy(params, head, mask, step.action)
            np.testing.assert_allclose(step.log_prob, want, rtol=1e-6)
            if algo.discrete:
                assert int(step.action[1]) != 3


def test_ail_reports_its_expert_beside_the_individual_policies():
    cfg = TrainConfig(algo="ail", num_envs=8, num_steps=25, total_env_steps=400, eval_episodes=4)
    train = make_train(envs.make("bridge"), cfg)
    out = jax.jit(train)(jax.random.PRNGKey(0), HParams().as_floats())
    for k in ("return", "success", "jams"):
        assert k in out.eval and f"expert_{k}" in out.eval
    assert "imitation_kl" in out.metrics and "mode_agreement" in out.metrics
    assert np.all(np.isfinite(np.asarray(out.metrics["imitation_kl"])))
    # MAPPO on the same run has no expert entries
    mappo = make_train(envs.make("bridge"), dataclasses.replace(cfg, algo="mappo"))
    assert not any(k.startswith("expert_") for k in jax.eval_shape(mappo, jax.random.PRNGKey(0),
                                                                   HParams().as_floats()).eval)
