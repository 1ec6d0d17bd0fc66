"""Policy Modifier shapes and symmetry; IGC of the AgentMixer joint policy; masked distributions."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentmixer_jax import distributions as D
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.policy_modifier import PolicyModifier
from agentmixer_jax.registry import make_policy
from envs.core import Box, Discrete, EnvSpec

N = 4


def _pm(agent_ids):
    return PolicyModifier(num_agents=N, out_dim=5, channels=16, blocks=2, token_hidden=8, channel_hidden=32,
                          agent_ids=agent_ids)


def test_pm_output_shape_and_zero_init():
    pm = _pm(True)
    x = jax.random.normal(jax.random.PRNGKey(0), (N, 7))
    params = pm.init(jax.random.PRNGKey(1), x)
    out = pm.apply(params, x)
    assert out.shape == (N, 5)
    np.testing.assert_allclose(out, 0.0)  # zero output layer: the joint starts as the product policy


def test_authors_pm_encodes_each_input_group_as_their_action_attention():
    # features = [policy (5), actor feature (7), state (9)] per agent; their Action_Attention (policy_modifier.py)
    pm = PolicyModifier(num_agents=N, out_dim=5, channels=16, token_hidden=8, channel_hidden=64, arch="authors",
                        policy_dim=5, state_dim=9)
    x = jax.random.normal(jax.random.PRNGKey(0), (N, 5 + 7 + 9))
    params = pm.init(jax.random.PRNGKey(1), x)["params"]
    shapes = jax.tree.map(jnp.shape, params)
    assert shapes["state_input_norm"]["scale"] == (9,)  # LayerNorm on the raw state (their feature norm)
    assert shapes["state_0"]["kernel"] == (9, 16) and shapes["state_1"]["kernel"] == (16, 16)  # MLPBase, layer_N 1
    assert shapes["policy"]["kernel"] == (5, 16)  # logit_encoder
    assert shapes["features"]["kernel"] == (16 + 16 + 7 + N, 16)  # feat_encoder over [state, policy, feature, id]
    for block, hidden in (("AgentMixing_0", 8), ("ChannelMixing_0", 64)):  # FeedForward: LayerNorm after the hidden
        assert shapes[block]["LayerNorm_1"]["scale"] == (hidden,)
    out = pm.apply({"params": params}, x)
    assert out.shape == (N, 5)
    assert 0 < float(jnp.max(jnp.abs(out))) < 0.1  # their head: orthogonal with gain 0.01, not zero
    # the state group reaches the output only through its own encoder: a state change moves the output ...
    moved = pm.apply({"params": params}, x.at[:, -1].add(3.0))
    assert not np.allclose(moved, out)
    # ... and zeroing that encoder's weights cuts it off (the split puts the state columns there, nowhere else)
    cut = jax.tree.map(lambda a: a, params)
    cut["state_0"] = jax.tree.map(jnp.zeros_like, params["state_0"])
    np.testing.assert_allclose(pm.apply({"params": cut}, x.at[:, -1].add(3.0)), pm.apply({"params": cut}, x),
                               atol=1e-6)


@pytest.mark.parametrize("arch", ["mixer", "authors"])
def test_pm_mixing_drops_only_the_layers_it_leaves_out(arch):
    """`mixing` (for profiling the PM): the parts left in are the PM's own layers, with the same parameters."""
    pm = PolicyModifier(num_agents=N, out_dim=5, channels=16, token_hidden=8, channel_hidden=32, arch=arch,
                        policy_dim=5, state_dim=9)
    x = jax.random.normal(jax.random.PRNGKey(0), (N, 21))
    full = pm.init(jax.random.PRNGKey(1), x)["params"]
    for mixing, dropped in (("a", "ChannelMixing_0"), ("c", "AgentMixing_0"), ("", "AgentMixing_0")):
        part = pm.clone(mixing=mixing).init(jax.random.PRNGKey(1), x)["params"]
        assert dropped not in part and set(part) < set(full)
        for name in part:
            assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), part[name], full[name]))


def test_authors_pm_needs_the_inputs_it_was_built_for():
    with pytest.raises(ValueError, match="pm_arch='authors' is the authors' PM"):
        TrainConfig(algo="agentmixer", pm_form="gumbel", pm_arch="authors").validate()
    with pytest.raises(ValueError, match="pm_agent_ids=False"):
        TrainConfig(algo="agentmixer_authors", pm_form="authors", pm_arch="authors", pm_agent_ids=False).validate()
    TrainConfig(algo="agentmixer_joint", pm_form="joint", pm_arch="authors").validate()  # same inputs: allowed


def _perturbed_params(pm, x):
    params = pm.init(jax.random.PRNGKey(1), x)
    # give the zero-initialised output layer random weights so the test sees the mixing
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(2), len(leaves))
    return jax.tree.unflatten(tree, [p + 0.3 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])


def test_pm_permutation_equivariant_without_agent_ids():
    pm = _pm(False)
    x = jax.random.normal(jax.random.PRNGKey(0), (N, 7))
    params = _perturbed_params(pm, x)
    perm = jnp.array([2, 0, 3, 1])
    out = pm.apply(params, x)
    np.testing.assert_allclose(pm.apply(params, x[perm]), out[perm], rtol=1e-4, atol=1e-5)
    # and the agents really are mixed: changing agent 0's input changes agent 1's output
    x2 = x.at[0].add(1.0)
    assert not np.allclose(pm.apply(params, x2)[1], out[1])


def test_pm_with_agent_ids_is_not_permutation_equivariant():
    pm = _pm(True)
    x = jax.random.normal(jax.random.PRNGKey(0), (N, 7))
    params = _perturbed_params(pm, x)
    perm = jnp.array([2, 0, 3, 1])
    assert not np.allclose(pm.apply(params, x[perm]), pm.apply(params, x)[perm], atol=1e-3)


def _continuous_spec():
    return EnvSpec(num_agents=3, obs_dim=5, state_dim=6, action_space=Box(-1.0, 1.0, 2))


@pytest.mark.parametrize("covariance", ["diag", "lowrank", "full"])
def test_igc_continuous_joint_mode_equals_individual_modes(covariance):
    spec = _continuous_spec()
    cfg = TrainConfig(algo="agentmixer", covariance=covariance, cov_rank=2)
    algo = make_policy("agentmixer", spec, cfg)
    params = algo.init(jax.random.PRNGKey(0))
    params["pm"] = _perturbed_params_tree(params["pm"])
    hp = HParams().as_floats()
    obs = jax.random.normal(jax.random.PRNGKey(3), (3, 5))
    state = jax.random.normal(jax.random.PRNGKey(4), (6,))
    mask = jnp.array([[True, True], [True, False], [True, True]])  # agent 1 owns one dimension
    _, out = algo.actor_step(params, algo.initial_hidden(), obs, mask, jnp.bool_(True))
    dist = algo.joint_distribution(params, out, state, mask, hp)
    individual_modes = algo.mode(params, out, mask)
    joint_mode = jnp.where(mask, dist.mode().reshape(3, 2), 0.0)
    np.testing.assert_allclose(joint_mode, individual_modes, rtol=1e-5, atol=1e-6)
    # the joint density peaks at the individual modes: any perturbation of the owned dims lowers it
    at_mode = D.joint_log_prob(dist, out.head, mask, individual_modes)
    for k in range(5):
        delta = 0.05 * jax.random.normal(jax.random.PRNGKey(10 + k), (3, 2)) * mask
        assert D.joint_log_prob(dist, out.head, mask, individual_modes + delta) < at_mode
    if covariance != "diag":  # correlated exploration: the covariance has off-diagonal terms across agents
        cov = dist.covariance()
        assert np.abs(np.asarray(cov[0, 2:])).max() > 1e-4


def _perturbed_params_tree(tree):
    leaves, td = jax.tree.flatten(tree)
    keys = jax.random.split(jax.random.PRNGKey(7), len(leaves))
    return jax.tree.unflatten(td, [p + 0.3 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])


def test_joint_log_prob_ignores_padded_dimensions():
    mean = jnp.array([[0.1, 0.0], [0.3, -0.2]])
    mask = jnp.array([[True, False], [True, True]])
    std = jnp.array([[0.5, 9.0], [0.7, 0.2]])
    dist = D.joint_gaussian(mean, mask, std)
    a = jnp.array([[0.4, 123.0], [0.0, 0.1]])  # the padded value must not matter
    want = sum(jax.scipy.stats.norm.logpdf(a[i, j], mean[i, j], std[i, j])
               for i, j in [(0, 0), (1, 0), (1, 1)])
    np.testing.assert_allclose(D.joint_log_prob(dist, mean, mask, a), want, rtol=1e-5)
    want_h = sum(0.5 * np.log(2 * np.pi * np.e * std[i, j] ** 2) for i, j in [(0, 0), (1, 0), (1, 1)])
    np.testing.assert_allclose(D.joint_entropy(dist, mask), want_h, rtol=1e-5)


def test_discrete_joint_policy_and_mode_consistency():
    spec = EnvSpec(num_agents=3, obs_dim=4, state_dim=5, action_space=Discrete(4))
    algo = make_policy("agentmixer", spec, TrainConfig(algo="agentmixer"))
    params = algo.init(jax.random.PRNGKey(0))
    hp = HParams().as_floats()
    obs = jax.random.normal(jax.random.PRNGKey(1), (3, 4))
    state = jax.random.normal(jax.random.PRNGKey(2), (5,))
    mask = jnp.array([[True] * 4, [True, True, False, False], [True] * 4])
    _, out = algo.actor_step(params, algo.initial_hidden(), obs, mask, jnp.bool_(True))
    # a freshly initialised PM perturbs nothing: the greedy joint equals the individual modes
    step = algo.act(params, out, state, mask, jax.random.PRNGKey(3), hp)
    assert float(step.metrics["mode_consistency"]) == 1.0
    # masked actions are never sampled, and re-scoring with the stored noise reproduces the log-prob
    params_r = dict(params, pm=_perturbed_params_tree(params["pm"]))
    for k in range(20):
        s = algo.act(params_r, out, state, mask, jax.random.PRNGKey(100 + k), hp)
        assert int(s.action[1]) in (0, 1)
        log_prob, entropy, _, _ = algo.evaluate(params_r, out, state, mask, s.action, s.extras, hp)
        np.testing.assert_allclose(log_prob, s.log_prob, rtol=1e-5, atol=1e-5)
        assert 0.0 <= float(s.metrics["mode_consistency"]) <= 1.0
        assert float(entropy[0]) > 0.0


def test_covariance_option_rejected_for_discrete_actions():
    import envs
    from agentmixer_jax.trainer import make_train

    cfg = dataclasses.replace(TrainConfig(), covariance="full")
    with pytest.raises(ValueError, match="covariance"):
        make_train(envs.make("climbing"), cfg)
