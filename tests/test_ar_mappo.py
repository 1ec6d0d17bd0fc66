"""AR-MAPPO (agentmixer_jax/policies/ar_mappo.py): the authors' execution mask, conditioning on earlier agents only,
sequential sampling equal to re-scoring, the per-epoch random orders of their update, centralised execution
flagged, no retracing, learning."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agentmixer_jax import registry
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.policies.ar_mappo import ARMAPPO, order_precedence, random_orders
from agentmixer_jax.trainer import Trainer
from envs.core import Box, Discrete, EnvSpec
from experiments.presets import preset
from tests.test_mat import _climbing

N = 4
CFG = TrainConfig(algo="ar_mappo", num_envs=8, num_steps=4, total_env_steps=8 * 4 * 3, update_epochs=2,
                  num_minibatches=2, share_actor_params=False, eval_episodes=4)


def _setup(discrete: bool, seed: int = 0, **cfg):
    action = Discrete(5) if discrete else Box(low=-1.0, high=1.0, act_dim=3)
    spec = EnvSpec(num_agents=N, obs_dim=6, state_dim=7, action_space=action)
    policy = ARMAPPO(spec, dataclasses.replace(CFG, **cfg))
    params = policy.init(jax.random.PRNGKey(seed))
    # the head's action weights start at gain 0.01: scale them up so that the conditioning is visible
    params["ar_head"] = jax.tree.map(lambda w: w * 300.0, params["ar_head"])
    obs = jnp.asarray(np.random.default_rng(seed).normal(size=(N, 6)), jnp.float32)
    mask = jnp.ones((N, spec.action_dim), bool)
    if discrete:
        mask = mask.at[2, 0].set(False).at[2, 3].set(False)
    _, out = policy.actor_step(params, policy.initial_hidden(), obs, mask, jnp.bool_(True))
    return policy, params, mask, out


def test_precedence_is_the_authors_execution_mask():
    """Worked by hand from generate_mask_from_order (bta/utils/util.py): order (2, 0, 1) means agent 2 acts first,
    then 0, then 1; row i marks the agents acting before i."""
    got = np.asarray(order_precedence(jnp.array([2, 0, 1])))
    np.testing.assert_array_equal(got, [[0, 0, 1], [1, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(np.asarray(order_precedence(jnp.arange(3))), np.tril(np.ones((3, 3)), -1))


@pytest.mark.parametrize("discrete", [True, False])
def test_agent_i_reads_the_earlier_agents_actions_only(discrete):
    policy, params, mask, out = _setup(discrete)
    before = order_precedence(jnp.array([3, 1, 0, 2]))  # 3 first, then 1, 0, 2
    action = jnp.array([1, 2, 1, 4]) if discrete else jnp.linspace(-0.9, 0.9, N * 3).reshape(N, 3)
    head = policy.heads(params, out, mask, action, before)
    changed_2 = policy.heads(params, out, mask, action.at[2].set(action[2] + (1 if discrete else 0.5)), before)
    np.testing.assert_allclose(changed_2, head, rtol=1e-6)  # agent 2 acts last: nobody reads its action
    changed_3 = policy.heads(params, out, mask, action.at[3].set(action[3] - (1 if discrete else 0.5)), before)
    np.testing.assert_allclose(changed_3[3], head[3], rtol=1e-6)  # an agent never reads its own action
    assert all(not np.allclose(changed_3[i], head[i]) for i in (0, 1, 2))  # everyone after agent 3 does


@pytest.mark.parametrize("discrete", [True, False])
def test_rollout_log_prob_equals_rescoring_under_the_rollout_order(discrete):
    """act samples agents 0..N-1 in turn; evaluate with the stored order re-scores the whole joint action in one
    pass and must give the same per-agent log-probabilities; a different order gives different ones."""
    policy, params, mask, out = _setup(discrete)
    hp = HParams().as_floats()
    for k in jax.random.split(jax.random.PRNGKey(1), 3):
        step = policy.act(params, out, jnp.zeros(7), mask, k, hp)
        np.testing.assert_array_equal(step.extras, np.arange(N))
        lp, ent, _, _ = policy.evaluate(params, out, jnp.zeros(7), mask, step.action, step.extras, hp)
        np.testing.assert_allclose(lp, step.log_prob, rtol=1e-5, atol=1e-5)
        reversed_lp, _, _, _ = policy.evaluate(params, out, jnp.zeros(7), mask, step.action,
                                               jnp.arange(N)[::-1], hp)
        assert not np.allclose(reversed_lp, step.log_prob)
        assert np.all(np.isfinite(ent))


def test_greedy_decoding_is_sequential_and_respects_masks():
    policy, params, mask, out = _setup(True)
    greedy = policy.mode(params, out, mask)
    heads = policy.heads(params, out, mask, greedy, order_precedence(jnp.arange(N)))
    np.testing.assert_array_equal(greedy, np.argmax(np.asarray(heads), -1))  # each the argmax given 0..i-1
    acts = jax.vmap(lambda k: policy.act(params, out, jnp.zeros(7), mask, k, HParams().as_floats()).action)(
        jax.random.split(jax.random.PRNGKey(2), 200))
    assert not np.isin(np.asarray(acts[:, 2]), [0, 3]).any() and int(greedy[2]) not in (0, 3)


def test_random_orders_are_uniform_permutations():
    orders = np.asarray(random_orders(jax.random.PRNGKey(0), (6000,), 3))
    np.testing.assert_array_equal(np.sort(orders, -1), np.broadcast_to(np.arange(3), orders.shape))
    _, counts = np.unique(orders @ np.array([9, 3, 1]), return_counts=True)
    assert len(counts) == 6 and counts.min() > 850 and counts.max() < 1150  # 1000 each expected (sd ~29)


def test_the_learner_redraws_orders_each_epoch_in_the_authors_mode_only():
    policy, _, _, _ = _setup(True)
    assert policy.redraws_extras
    stored = jnp.broadcast_to(jnp.arange(N), (5, 8, N))
    a = policy.redraw_extras(jax.random.PRNGKey(0), stored)
    b = policy.redraw_extras(jax.random.PRNGKey(1), stored)
    assert a.shape == stored.shape and not np.array_equal(a, b) and not np.array_equal(a, stored)
    rollout, _, _, _ = _setup(True, ar_mappo_order="rollout")
    assert not rollout.redraws_extras


def test_registry_flags_centralised_execution_and_per_agent_actors():
    assert registry.get("ar_mappo").centralised_execution
    cfg, _ = preset("climbing", "ar_mappo")
    assert not cfg.share_actor_params and cfg.ar_mappo_order == "random"
    with pytest.raises(ValueError, match="ar_mappo_order='both': choose random or rollout"):
        dataclasses.replace(CFG, ar_mappo_order="both").validate()


def test_ar_mappo_trains_without_retracing_and_moves_its_action_weights():
    chex.clear_trace_counter()
    trainer = Trainer(envs.make("climbing"), dataclasses.replace(CFG, num_steps=1, total_env_steps=24))
    hp = HParams().as_floats()
    run = jax.jit(chex.assert_max_traces(trainer.run, n=1), static_argnums=1)
    state = trainer.init(jax.random.PRNGKey(0), hp)
    before = state.learner.params["ar_head"]
    state, _ = run(state, 2)
    state, m = run(state, 2)
    assert np.all(np.isfinite(m["value_loss"])) and np.all(np.isfinite(m["policy_loss"]))
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), state.learner.params["ar_head"], before)
    assert max(jax.tree.leaves(moved)) > 0


def test_authors_mode_rescores_under_new_orders_and_rollout_mode_under_the_acting_order():
    """With every learning rate 0 the parameters never move, so the PPO ratios measure the re-scoring alone: under
    the rollout's order they are 1 (approx_kl ~ 0, nothing clipped); under the authors' fresh random orders the
    learner re-conditions each agent on other agents than it acted on, and the ratios leave 1."""
    hp = HParams(lr=0.0, critic_lr=0.0).as_floats()
    kl = {}
    for order in ("random", "rollout"):
        trainer = Trainer(envs.make("climbing"), dataclasses.replace(CFG, num_steps=1, total_env_steps=24,
                                                                    ar_mappo_order=order))
        state = trainer.init(jax.random.PRNGKey(0), hp)
        params = {**state.learner.params, "ar_head": jax.tree.map(lambda w: w * 300.0,
                                                                  state.learner.params["ar_head"])}
        state = state.replace(learner=state.learner.replace(params=params))
        _, m = jax.jit(trainer.run, static_argnums=1)(state, 1)
        kl[order] = (float(np.max(m["approx_kl"])), float(np.max(m["clip_fraction"])))
    assert kl["rollout"][0] < 1e-6 and kl["rollout"][1] == 0.0, kl
    assert kl["random"][0] > 1e-3 and kl["random"][1] > 0.0, kl


@pytest.mark.slow
def test_ar_mappo_learns_the_climbing_game():
    """64 seeds, the climbing preset (100 updates): untrained greedy pairs sit at a pure Nash equilibrium 2/9 of
    the time with mean payoff -3.9; AR-MAPPO must reach one on >= 50% of seeds (64% measured)."""
    ev = _climbing("ar_mappo")
    assert np.mean(ev["ce_epsilon"] == 0.0) >= 0.5, np.mean(ev["ce_epsilon"] == 0.0)
    assert ev["return"].mean() >= 5.0
