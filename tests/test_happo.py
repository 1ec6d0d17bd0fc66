"""HAPPO (agentmixer_jax/learners/happo.py, policies/happo.py): the ratio-product weighting, the per-update agent
order, one agent at a time through its own actor and optimiser, masks, no retracing, and learning checks."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agentmixer_jax import losses
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.policies.happo import HAPPOPolicy
from agentmixer_jax.trainer import Trainer, make_train
from envs.core import Box, Discrete, EnvSpec
from experiments.presets import preset

SMALL = TrainConfig(algo="happo", num_envs=8, num_steps=4, total_env_steps=8 * 4 * 3, update_epochs=2,
                    num_minibatches=2, hidden_sizes=(16,), critic_hidden_sizes=(16,), gru_size=8, eval_episodes=4,
                    share_actor_params=False)


def test_weighted_surrogate_by_hand_for_two_agents():
    """Two agents, order (1, 0). Agent 1 goes first with weight 1; its ratio after its epochs is 1.5, so agent 0's
    surrogate is weighted by 1.5: with A = 2, clip 0.2, agent 0's ratio 1.1 gives -1.5 * 1.1 * 2 = -3.3, ratio 1.3
    is clipped to 1.2 (-1.5 * 1.2 * 2 = -3.6); with A = -1 and ratio 0.7 the pessimistic min is the clipped side
    0.8 * -1 (loss +1.5 * 0.8 = 1.2)."""
    clip = jnp.float32(0.2)
    first, _, _ = losses.ppo_policy_loss(jnp.log(jnp.array([1.1])), jnp.zeros(1), jnp.array([2.0]), clip,
                                         weight=jnp.ones(1))
    assert float(first) == pytest.approx(-2.2, rel=1e-5)
    factor = jnp.exp(jnp.log(jnp.array([1.5])) - 0.0)  # agent 1's new / old probability of its action
    cases = [(1.1, 2.0, -3.3), (1.3, 2.0, -3.6), (0.7, -1.0, 1.2)]
    for ratio, adv, want in cases:
        loss, _, _ = losses.ppo_policy_loss(jnp.log(jnp.array([ratio])), jnp.zeros(1), jnp.array([adv]), clip,
                                            weight=factor)
        assert float(loss) == pytest.approx(want, rel=1e-5), (ratio, adv)
    # the weight is data: no gradient flows into it
    g = jax.grad(lambda w: losses.ppo_policy_loss(jnp.log(jnp.array([1.1])), jnp.zeros(1), jnp.array([2.0]),
                                                  clip, weight=w)[0])(jnp.ones(1))
    assert float(jnp.abs(g).sum()) == 0.0


def _spec(discrete: bool) -> EnvSpec:
    action = Discrete(4) if discrete else Box(low=-1.0, high=1.0, act_dim=2)
    return EnvSpec(num_agents=3, obs_dim=5, state_dim=7, action_space=action)


@pytest.mark.parametrize("discrete", [True, False])
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("recurrent", [True, False])
def test_one_agent_alone_equals_its_row_of_the_joint_actors(discrete, shared, recurrent):
    spec = _spec(discrete)
    policy = HAPPOPolicy(spec, dataclasses.replace(SMALL, share_actor_params=shared, recurrent=recurrent))
    params = policy.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    h = jnp.asarray(rng.normal(size=(3, 8)), jnp.float32)
    obs = jnp.asarray(rng.normal(size=(3, 5)), jnp.float32)
    mask = jnp.ones((3, spec.action_dim), bool)
    if discrete:
        mask = mask.at[1, 2].set(False)  # agent 1 may not take action 2
    h_all, out_all = policy.actor_step(params, h, obs, mask, jnp.bool_(False))
    for i in range(3):
        agent = policy.agent_params(params, jnp.int32(i))
        h_i, out_i = policy.agent_step(agent, jnp.int32(i), h[i], obs[i], mask[i], jnp.bool_(False))
        np.testing.assert_allclose(out_i.head, out_all.head[i], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h_i, h_all[i], rtol=1e-5, atol=1e-6)
    if discrete:
        assert float(out_all.head[1, 2]) < -1e8
    # writing agent 1's parameters back is the identity; changing them changes agent 1 alone (unless shared)
    agent1 = policy.agent_params(params, jnp.int32(1))
    same = policy.set_agent_params(params, jnp.int32(1), agent1)
    chex.assert_trees_all_equal(same, params)
    moved = policy.set_agent_params(params, jnp.int32(1), jax.tree.map(lambda x: x + 0.5, agent1))
    _, out_moved = policy.actor_step(moved, h, obs, mask, jnp.bool_(False))
    changed = ~np.isclose(np.asarray(out_moved.head), np.asarray(out_all.head)).all(-1)
    assert changed[1]
    assert changed.tolist() == ([True] * 3 if shared else [False, True, False])
    if not discrete and not shared:
        assert params["log_std"]["log_std"].shape == (3, 2)  # one exploration scale per agent


def _trainer(cfg=SMALL, env="predator_prey"):
    return Trainer(envs.make(env), cfg)


def test_the_order_is_a_fresh_permutation_every_update():
    learner = _trainer().learner
    n = learner.policy.num_agents
    orders = np.stack([np.asarray(learner.order(k)) for k in jax.random.split(jax.random.PRNGKey(0), 40)])
    assert all(sorted(o) == list(range(n)) for o in orders)
    assert len({tuple(o) for o in orders}) > 1  # not the same order every update
    fixed = Trainer(envs.make("predator_prey"), dataclasses.replace(SMALL, happo_fixed_order=True)).learner
    assert np.asarray(fixed.order(jax.random.PRNGKey(3))).tolist() == list(range(n))


@pytest.mark.parametrize("recurrent", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_each_agent_s_weight_is_the_product_of_the_ratios_of_the_agents_before_it(recurrent):
    """After one update's actor turns: the factor the m-th agent used equals prod_{j < m} pi_new_j / pi_old_j of
    the rollout's actions, each ratio computed independently from the parameters before and after; every agent
    has moved, and the critic has not."""
    env = envs.make("predator_prey", num_predators=3)
    cfg = dataclasses.replace(SMALL, recurrent=recurrent)
    trainer = Trainer(env, cfg)
    learner, hp = trainer.learner, HParams(lr=3e-2).as_floats()
    state = trainer.init(jax.random.PRNGKey(0), hp).learner
    state, traj, (hidden0, _), adv, _, _ = learner.collect(state, hp)
    order = jnp.array([2, 0, 1], jnp.int32)
    params, opt_actor, factors, _ = jax.jit(learner.actor_updates)(state.params, state.opt_state["actor"], traj,
                                                                   hidden0, adv, order, jax.random.PRNGKey(1), hp)

    def log_prob(p, i):  # (T, E) agent i's log-probabilities of its rollout actions
        _, out = jax.lax.scan(lambda h, x: jax.vmap(learner.policy.actor_step, (None, 0, 0, 0, 0))(p, h, *x),
                              hidden0, (learner.policy.obs_inputs(p, traj.obs), traj.mask, traj.start))
        lp, _ = jax.vmap(jax.vmap(learner.policy.individual_log_prob_entropy, (None, 0, 0, 0)),
                         (None, 0, 0, 0))(p, out, traj.mask, traj.action)
        return lp[..., i]

    np.testing.assert_allclose(factors[0], 1.0)
    want = np.ones(factors.shape[1:])
    for m in range(1, 3):
        j = int(order[m - 1])
        want = want * np.exp(np.asarray(log_prob(params, j)) - np.asarray(log_prob(state.params, j)))
        np.testing.assert_allclose(factors[m], want, rtol=2e-4, atol=1e-5)
    assert float(np.abs(factors[2] - 1).max()) > 1e-3  # the test means something: the ratios moved
    for i in range(3):
        before = learner.policy.agent_params(state.params, jnp.int32(i))
        after = learner.policy.agent_params(params, jnp.int32(i))
        assert not all(np.allclose(a, b) for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(before)))
    chex.assert_trees_all_equal(params["critic"], state.params["critic"])
    # one Adam per agent, each stepped epochs x minibatches times in its own turn
    counts = [x for x in jax.tree.leaves(opt_actor) if x.dtype == jnp.int32 and x.ndim == 1]
    assert counts and all(np.asarray(c).tolist() == [4, 4, 4] for c in counts)


def test_happo_updates_without_retracing_and_trains_the_critic():
    trainer = _trainer(dataclasses.replace(SMALL, num_steps=1, total_env_steps=24), env="climbing")
    hp = HParams().as_floats()
    run = jax.jit(chex.assert_max_traces(trainer.run, n=1), static_argnums=1)
    state = trainer.init(jax.random.PRNGKey(0), hp)
    state, m1 = run(state, 2)
    state, m2 = run(state, 2)  # a second chunk of the same length: no new trace
    assert np.all(np.isfinite(m2["value_loss"])) and float(m2["value_loss"][-1]) > 0
    assert int(state.update) == 4


def test_happo_preset_uses_per_agent_actors_and_the_cli_runs(tmp_path):
    from experiments import train as cli

    cfg, _ = preset("predator_prey", "happo")
    assert cfg.share_actor_params is False
    assert preset("predator_prey", "mappo")[0].share_actor_params is True
    from agentmixer_jax.checkpoint import load_run

    summary = cli.main(["--env", "climbing", "--algo", "happo", "--seeds", "4", "--config.total-env-steps", "640",
                        "--out", str(tmp_path / "r"), "--no-progress"])
    run = load_run(tmp_path / "r")
    assert run.config.algo == "happo" and run.config.share_actor_params is False
    np.testing.assert_allclose(run.evaluate()["return"], summary["eval"]["return_per_seed"], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("shared, floor", [(True, 0.75), (False, 0.45)])
def test_happo_learns_the_climbing_game(shared, floor):
    """64 seeds; untrained greedy pairs sit at a pure Nash equilibrium 2/9 of the time with mean payoff -3.9.
    Shared actors must do as MAPPO's check asks (>= 75% at an equilibrium; measured 83%). Per-agent actors
    (HAPPO's preset) reach fewer (measured 58%; MAPPO with per-agent actors gives the same 58% on these seeds,
    so it is the separate networks, not the sequential update): >= 45%, twice the untrained rate."""
    cfg, hp = preset("climbing", "happo")
    cfg = dataclasses.replace(cfg, share_actor_params=shared)
    out = jax.jit(jax.vmap(make_train(envs.make("climbing"), cfg), in_axes=(0, None)))(
        jax.random.split(jax.random.PRNGKey(2024), 64), hp.as_floats())
    eps = np.asarray(out.eval["ce_epsilon"])
    assert np.mean(eps == 0.0) >= floor, np.mean(eps == 0.0)
    assert np.asarray(out.eval["return"]).mean() >= 5.0


@pytest.mark.slow
def test_happo_bridge_learns_to_cross():
    """MAPPO's bridge check (tests/test_learning_grid.py): 32 seeds x 100k steps, success >= 75%."""
    cfg, hp = preset("bridge", "happo")
    cfg = dataclasses.replace(cfg, total_env_steps=100_000)
    out = jax.jit(jax.vmap(make_train(envs.make("bridge"), cfg), in_axes=(0, None)))(
        jax.random.split(jax.random.PRNGKey(7), 32), hp.as_floats())
    assert float(np.mean(out.eval["success"])) >= 0.75


@pytest.mark.slow
def test_happo_runs_on_a_continuous_robot():
    """hopper_3x1 (MaMuJoCo on Brax): per-agent log-stds, finite losses, the training return rises."""
    cfg, hp = preset("hopper_3x1", "happo")
    cfg = dataclasses.replace(cfg, num_envs=16, num_steps=100, total_env_steps=16 * 100 * 12, num_minibatches=2)
    from experiments.presets import env_kwargs

    out = jax.jit(jax.vmap(make_train(envs.make("hopper_3x1", **env_kwargs("hopper_3x1")), cfg),
                           in_axes=(0, None)))(jax.random.split(jax.random.PRNGKey(0), 2), hp.as_floats())
    assert out.params["log_std"]["log_std"].shape[1:] == (3, 1)
    assert np.all(np.isfinite(out.metrics["value_loss"]))
    curve = np.asarray(out.metrics["episode_return"]).mean(0)
    assert curve[-3:].mean() > curve[:3].mean()
