"""MAT and MAT-Dec (agentmixer_jax/policies/mat.py, transformer.py): teacher forcing equals sequential decoding,
causality over agents, MAT-Dec's decentralisation, masks, centralised execution flagged, no retracing, learning."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agentmixer_jax import registry
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.policies.mat import MAT, MATDec
from agentmixer_jax.trainer import Trainer, make_train
from envs.core import Box, Discrete, EnvSpec
from experiments.presets import preset

N = 4
CFG = TrainConfig(algo="mat", num_envs=8, num_steps=4, total_env_steps=8 * 4 * 3, update_epochs=2,
                  num_minibatches=2, mat_embd=16, mat_heads=2, eval_episodes=4, value_norm=True, value_loss="huber")


def _spec(discrete: bool) -> EnvSpec:
    action = Discrete(5) if discrete else Box(low=-1.0, high=1.0, act_dim=3)
    return EnvSpec(num_agents=N, obs_dim=6, state_dim=7, action_space=action)


def _setup(cls, discrete, seed=0):
    spec = _spec(discrete)
    policy = cls(spec, dataclasses.replace(CFG, algo=cls.name))
    params = policy.init(jax.random.PRNGKey(seed))
    rng = np.random.default_rng(seed)
    obs = jnp.asarray(rng.normal(size=(N, 6)), jnp.float32)
    mask = jnp.ones((N, spec.action_dim), bool)
    if discrete:
        mask = mask.at[2, 0].set(False).at[2, 3].set(False)
    _, out = policy.actor_step(params, policy.initial_hidden(), obs, mask, jnp.bool_(True))
    return policy, params, obs, mask, out


@pytest.mark.parametrize("discrete", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_teacher_forced_log_prob_equals_sequential_decoding(discrete):
    """For sampled joint actions, the one-pass teacher-forced per-agent log-probabilities equal those computed
    agent by agent with only the earlier agents' actions fed in (later slots filled with other actions)."""
    policy, params, obs, mask, out = _setup(MAT, discrete)
    hp = HParams().as_floats()
    for k in jax.random.split(jax.random.PRNGKey(1), 2):
        step = policy.act(params, out, jnp.zeros(7), mask, k, hp)
        forced, _, _, _ = policy.evaluate(params, out, jnp.zeros(7), mask, step.action, (), hp)
        np.testing.assert_allclose(step.log_prob, forced, rtol=1e-5, atol=1e-5)
        sequential = []
        for i in range(N):
            other = jax.random.randint(k, step.action.shape, 0, 3) if discrete else \
                jax.random.normal(k, step.action.shape)
            partial = jnp.where((jnp.arange(N) < i).reshape((N,) + (1,) * (step.action.ndim - 1)), step.action,
                                other.astype(step.action.dtype))
            head = policy.decode(params, out.feature, partial, mask)
            lp, _ = policy._agent_log_prob_entropy(params, head, mask, step.action)
            sequential.append(lp[i])
        np.testing.assert_allclose(forced, np.array(sequential), rtol=1e-5, atol=1e-5)


def test_mat_agent_i_depends_on_earlier_actions_only():
    policy, params, obs, mask, out = _setup(MAT, True)
    base = jnp.array([1, 2, 1, 4], jnp.int32)
    head = policy.decode(params, out.feature, base, mask)
    changed_last = policy.decode(params, out.feature, base.at[3].set(0), mask)  # no agent comes after agent 3
    np.testing.assert_allclose(changed_last, head, rtol=1e-6)
    changed_first = policy.decode(params, out.feature, base.at[0].set(3), mask)
    np.testing.assert_allclose(changed_first[0], head[0], rtol=1e-6)
    assert not np.allclose(changed_first[1:], head[1:])


@pytest.mark.parametrize("discrete", [True, False])
def test_mat_dec_agent_i_ignores_the_others(discrete):
    """MAT-Dec: agent i's policy does not change with the other agents' actions or observations."""
    policy, params, obs, mask, out = _setup(MATDec, discrete)
    hp = HParams().as_floats()
    action = policy.mode(params, out, mask)
    lp, _, _, _ = policy.evaluate(params, out, jnp.zeros(7), mask, action, (), hp)
    other_actions = action.at[1:].set(action[1:] + 1 if discrete else action[1:] + 0.7)
    lp2, _, _, _ = policy.evaluate(params, out, jnp.zeros(7), mask, other_actions, (), hp)
    assert float(lp2[0]) == pytest.approx(float(lp[0]), rel=1e-6)
    # (a constant shift would not do: every actor starts with a LayerNorm of its observation)
    new_obs = obs.at[1:].set(jnp.asarray(np.random.default_rng(9).normal(size=(N - 1, 6)), jnp.float32))
    _, out2 = policy.actor_step(params, policy.initial_hidden(), new_obs, mask, jnp.bool_(True))
    np.testing.assert_allclose(out2.head[0], out.head[0], rtol=1e-6)
    assert not np.allclose(out2.head[1:], out.head[1:])


@pytest.mark.parametrize("cls", [MAT, MATDec])
def test_unavailable_actions_are_never_taken(cls):
    policy, params, obs, mask, out = _setup(cls, True)
    hp = HParams().as_floats()
    acts = jax.vmap(lambda k: policy.act(params, out, jnp.zeros(7), mask, k, hp).action)(
        jax.random.split(jax.random.PRNGKey(2), 200))
    assert not np.isin(np.asarray(acts[:, 2]), [0, 3]).any()
    assert int(policy.mode(params, out, mask)[2]) not in (0, 3)


def test_mat_is_flagged_as_centralised_execution_and_mat_dec_is_not():
    assert registry.get("mat").centralised_execution and not registry.get("mat_dec").centralised_execution
    cfg, _ = preset("predator_prey", "mat")
    assert cfg.value_norm and cfg.value_loss == "huber"


def test_mat_rejects_options_it_has_no_place_for():
    with pytest.raises(ValueError, match="recurrent=True does not apply to mat"):
        dataclasses.replace(CFG, recurrent=True).validate()
    with pytest.raises(ValueError, match="mat_heads=3 must divide mat_embd=16"):
        dataclasses.replace(CFG, mat_heads=3).validate()


# both under -m slow (make test's 15-minute budget, 2026-12-04): the shared PPO path trains without retracing in
# test_ar_mappo.py / test_trainer.py; MAT's decoding and re-scoring tests above stay fast
@pytest.mark.slow
@pytest.mark.parametrize("algo", ["mat", "mat_dec"])
def test_mat_trains_without_retracing(algo):
    chex.clear_trace_counter()  # the counter is keyed by function: the other parametrisation traced `run` too
    trainer = Trainer(envs.make("climbing"), dataclasses.replace(CFG, algo=algo, num_steps=1, total_env_steps=24))
    hp = HParams().as_floats()
    run = jax.jit(chex.assert_max_traces(trainer.run, n=1), static_argnums=1)
    state = trainer.init(jax.random.PRNGKey(0), hp)
    state, _ = run(state, 2)
    state, m = run(state, 2)
    assert np.all(np.isfinite(m["value_loss"])) and np.all(np.isfinite(m["policy_loss"]))
    # the transformer trained: the encoder moved
    fresh = trainer.policy.init(jax.random.PRNGKey(0))
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), state.learner.params["encoder"],
                         fresh["encoder"])
    assert max(jax.tree.leaves(moved)) > 0


def _climbing(algo: str, **cfg_overrides) -> dict:
    cfg, hp = preset("climbing", algo)
    cfg = dataclasses.replace(cfg, **cfg_overrides)
    out = jax.jit(jax.vmap(make_train(envs.make("climbing"), cfg), in_axes=(0, None)))(
        jax.random.split(jax.random.PRNGKey(2024), 64), hp.as_floats())
    return {k: np.asarray(v) for k, v in out.eval.items()}


@pytest.mark.slow
def test_mat_dec_learns_the_climbing_game():
    """64 seeds, the climbing preset (100 updates): untrained greedy pairs sit at a pure Nash equilibrium 2/9 of
    the time with mean payoff -3.9; MAT-Dec must reach one on >= 75% of seeds, as MAPPO's check asks."""
    ev = _climbing("mat_dec")
    assert np.mean(ev["ce_epsilon"] == 0.0) >= 0.75, np.mean(ev["ce_epsilon"] == 0.0)
    assert ev["return"].mean() >= 5.0


@pytest.mark.slow
def test_mat_learns_the_climbing_game_with_four_times_the_updates():
    """MAT's transformer learns more slowly here: at the preset's 100 updates 30% of 64 seeds sit at an
    equilibrium, at 400 updates 80% (MAPPO: 83% at 100). >= 65% at 400 updates."""
    ev = _climbing("mat", total_env_steps=64 * 400)
    assert np.mean(ev["ce_epsilon"] == 0.0) >= 0.65, np.mean(ev["ce_epsilon"] == 0.0)
    assert ev["return"].mean() >= 5.0


def test_playback_samples_mat_s_own_policy_and_mat_dec_s_individual_policies():
    """Playback's `sample` behaviour (Acting.individual_sample) draws MAT's autoregressive joint sample (it has no
    individual policies; its actor heads are placeholders) and MAT-Dec's per-agent policies."""
    hp = HParams().as_floats()
    for cls in (MAT, MATDec):
        policy, params, obs, mask, out = _setup(cls, True)
        k = jax.random.PRNGKey(5)
        want = policy.act(params, out, jnp.zeros(7), mask, k, hp)
        got = policy.individual_act(params, out, jnp.zeros(7), mask, k, hp)
        np.testing.assert_array_equal(got.action, want.action)
        np.testing.assert_allclose(got.log_prob, want.log_prob, rtol=1e-6)
