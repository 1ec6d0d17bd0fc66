"""Critic and network options: running statistics (input normalisation, ValueNorm), the Huber value loss, the
QR-free orthogonal init, the recurrent critic."""

import dataclasses
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agentmixer_jax import losses
from agentmixer_jax import normalization as norm
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.networks import householder_q, orthogonal
from agentmixer_jax.run_record import RunFolder
from agentmixer_jax.trainer import Trainer, make_train

SMALL = TrainConfig(algo="mappo", num_envs=8, num_steps=4, total_env_steps=8 * 4 * 4, update_epochs=2,
                    num_minibatches=2, hidden_sizes=(16,), critic_hidden_sizes=(16,), gru_size=8, eval_episodes=4,
                    normalize_inputs=True, value_norm=True)


def test_running_mean_std_equals_the_direct_statistics_of_all_batches():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 5.0, size=(n, 2, 3)).astype(np.float32) for n in (1, 7, 40, 5)]
    stats = norm.rms_init(3)
    for b in batches:
        stats = norm.rms_update(stats, jnp.asarray(b))
    data = np.concatenate([b.reshape(-1, 3) for b in batches]).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats["var"], data.var(0), rtol=1e-4)
    assert float(stats["count"]) == data.shape[0]
    x = jnp.asarray(data[:4], jnp.float32)
    np.testing.assert_allclose(norm.rms_normalize(stats, x), (data[:4] - data.mean(0)) / np.sqrt(data.var(0)),
                               rtol=1e-4, atol=1e-5)
    # far outliers are clipped
    assert float(jnp.max(norm.rms_normalize(stats, x + 1e6))) == norm.INPUT_CLIP


def test_value_norm_is_the_debiased_moving_average_and_round_trips():
    rng = np.random.default_rng(1)
    beta = 0.9  # a visible moving average (the default 0.99999 is nearly a plain mean)
    vn = norm.value_norm_init()
    mean = mean_sq = debias = 0.0
    for _ in range(5):
        t = rng.normal(20.0, 4.0, size=(6, 3))
        vn = norm.value_norm_update(vn, jnp.asarray(t, jnp.float32), beta=beta)
        mean = beta * mean + (1 - beta) * t.mean()
        mean_sq = beta * mean_sq + (1 - beta) * (t**2).mean()
        debias = beta * debias + (1 - beta)
    want_mean = mean / debias
    want_var = max(mean_sq / debias - want_mean**2, 1e-2)
    got_mean, got_var = norm.value_norm_mean_var(vn)
    np.testing.assert_allclose(got_mean, want_mean, rtol=1e-5)
    np.testing.assert_allclose(got_var, want_var, rtol=1e-3)
    x = jnp.asarray(rng.normal(size=(4, 3)), jnp.float32) * 10 + 20
    np.testing.assert_allclose(norm.value_normalize(vn, x), (x - want_mean) / np.sqrt(want_var), rtol=1e-3)
    np.testing.assert_allclose(norm.value_denormalize(vn, norm.value_normalize(vn, x)), x, rtol=1e-5)
    # with the default beta the debiased statistics are (nearly) the plain mean / variance of all targets
    vn, seen = norm.value_norm_init(), []
    for _ in range(3):
        t = rng.normal(-7.0, 2.0, size=(50,))
        seen.append(t)
        vn = norm.value_norm_update(vn, jnp.asarray(t, jnp.float32))
    m, v = norm.value_norm_mean_var(vn)
    np.testing.assert_allclose(m, np.mean(seen), rtol=1e-3)
    np.testing.assert_allclose(v, np.mean(np.square(seen)) - np.mean(seen) ** 2, rtol=2e-2)


def test_huber_value_loss_by_hand():
    v = jnp.array([0.0, 0.0, 0.0]), jnp.array([0.0, 0.0, 0.0]), jnp.array([1.0, -3.0, 30.0])
    got = losses.value_loss(*v, clip_eps=0.2, clip=False, huber_delta=jnp.float32(10.0))
    want = np.mean([0.5 * 1.0, 0.5 * 9.0, 10.0 * (30.0 - 5.0)])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(losses.value_loss(*v, clip_eps=0.2, clip=False), np.mean([0.5, 4.5, 450.0]))
    # MAPPO's one-sided form: a value 30 above its target (e = target - value = -30) gives no loss
    over = jnp.zeros(3), jnp.zeros(3), jnp.array([1.0, -3.0, -30.0])
    np.testing.assert_allclose(losses.value_loss(*over, clip_eps=0.2, clip=False, huber_delta=jnp.float32(10.0)),
                               want, rtol=1e-6)
    np.testing.assert_allclose(losses.value_loss(*over, clip_eps=0.2, clip=False, huber_delta=jnp.float32(10.0),
                                                 one_sided=True), np.mean([0.5, 4.5, 0.0]), rtol=1e-6)


@pytest.mark.parametrize("shape", [(64, 64), (37, 64), (64, 5), (3, 4, 5)])
def test_qr_free_orthogonal_init_equals_jax_orthogonal(shape):
    key = jax.random.PRNGKey(7)
    got = orthogonal(1.4)(key, shape)
    want = jax.nn.initializers.orthogonal(1.4)(key, shape)
    np.testing.assert_allclose(got, want, atol=2e-5)
    m = np.asarray(got).reshape(-1, shape[-1]) / 1.4
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-5)
    # ... and it is not the identity or a fixed matrix: another key draws another matrix
    assert not np.allclose(orthogonal(1.4)(jax.random.PRNGKey(8), shape), got)


def test_householder_q_handles_a_rank_deficient_column():
    a = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)), jnp.float32).at[:, 1].set(0.0)
    q = householder_q(a)
    assert np.all(np.isfinite(q))
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-5)


@pytest.mark.slow  # make test's 15-min budget (issue 15); siblings stay fast
def test_vmapped_orthogonal_gru_init_and_training_never_hang():
    """jaxlib 0.10 CPU hangs on several batched QR decompositions in one jit; 8 seeds of GRU actors with the
    orthogonal init (flax's GRU kernels included) must init and train in a fresh process within the timeout."""
    code = """
import dataclasses, jax, envs
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.trainer import make_train
cfg = TrainConfig(algo="mappo", recurrent=True, weight_init="orthogonal", gru_dense=True, num_envs=4, num_steps=4,
                  total_env_steps=32, num_minibatches=2, hidden_sizes=(16,), critic_hidden_sizes=(16,), gru_size=16,
                  eval_episodes=2)
train = jax.jit(jax.vmap(make_train(envs.make("predator_prey"), cfg), (0, None)))
out = train(jax.random.split(jax.random.PRNGKey(0), 8), HParams())
print("ok", out.eval["return"].shape)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ok (8,)" in done.stdout


def _trainer(cfg=SMALL, env="predator_prey"):
    return Trainer(envs.make(env), cfg)


def test_inputs_are_normalised_alike_in_acting_and_training():
    """One epoch, one minibatch: the loss re-scores the rollout's actions with the policy that took them (KL 0)
    only if training normalises the inputs with the statistics acting used."""
    cfg = dataclasses.replace(SMALL, update_epochs=1, num_minibatches=1)
    trainer = _trainer(cfg)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0), HParams().as_floats())
    state, metrics = jax.jit(trainer.run, static_argnums=1)(state, 3)
    np.testing.assert_allclose(metrics["approx_kl"], 0.0, atol=1e-6)
    stats = state.learner.params["input_norm"]
    spec = trainer.spec
    # initial observations + 3 rollouts of 8 envs x 4 steps, every agent's observation counted
    assert float(stats["obs"]["count"]) == (8 + 3 * 32) * spec.num_agents
    assert float(stats["state"]["count"]) == 8 + 3 * 32
    assert float(jnp.max(jnp.abs(stats["obs"]["mean"]))) > 0
    assert float(state.learner.value_norm.debiasing_term) == pytest.approx(1 - 0.99999**3, rel=1e-3)


@pytest.mark.slow  # make test's 15-min budget (issue 15); siblings stay fast
def test_statistics_are_never_trained_and_the_options_change_learning():
    trainer = _trainer()
    hp = HParams(lr=1e-2, critic_lr=1e-2).as_floats()
    params = trainer.policy.init(jax.random.PRNGKey(1))
    tx = trainer.learner.optimizer(params, hp)
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = tx.update(grads, tx.init(params), params)
    assert all(float(jnp.max(jnp.abs(u))) == 0 for u in jax.tree.leaves(updates["input_norm"]))
    assert all(float(jnp.max(jnp.abs(u))) > 0 for u in jax.tree.leaves(updates["actor"]))
    plain = make_train(envs.make("predator_prey"), dataclasses.replace(SMALL, normalize_inputs=False,
                                                                       value_norm=False))
    a = jax.jit(plain)(jax.random.PRNGKey(1), HParams())
    b = jax.jit(make_train(envs.make("predator_prey"), SMALL))(jax.random.PRNGKey(1), HParams())
    assert not np.allclose(a.metrics["value_loss"], b.metrics["value_loss"])


def test_resume_restores_the_statistics_bit_for_bit(tmp_path):
    trainer = _trainer()
    hp = HParams().as_floats()
    run = jax.jit(trainer.run, static_argnums=1)
    s0 = jax.jit(trainer.init)(jax.random.PRNGKey(2), hp)
    whole, _ = run(run(s0, 2)[0], 2)
    half, _ = run(s0, 2)
    folder = RunFolder(tmp_path / "r")
    folder.save_checkpoint(2, half, {"note": "half"})
    restored, host = folder.restore_checkpoint(jax.tree.map(np.zeros_like, half))
    assert host == {"note": "half"}
    for a, b in zip(jax.tree.leaves(half), jax.tree.leaves(restored)):
        np.testing.assert_array_equal(a, b)
    resumed, _ = run(jax.tree.map(jnp.asarray, restored), 2)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # make test's 15-min budget (issue 15); siblings stay fast
def test_a_saved_policy_replays_with_its_statistics(tmp_path):
    """Saved parameters carry the input statistics: after loading, the greedy actions and the evaluation equal
    those before saving, and they would not with fresh statistics."""
    from agentmixer_jax.checkpoint import load_run
    from experiments import train as cli

    out = tmp_path / "run"
    summary = cli.main(["--env", "bridge", "--algo", "mappo", "--out", str(out), "--seeds", "2",
                        "--config.total-env-steps", "512", "--config.num-envs", "16", "--config.num-steps", "8",
                        "--config.normalize-inputs", "--config.value-norm", "--no-progress"])
    run = load_run(out)
    assert run.config.normalize_inputs and run.config.value_norm
    np.testing.assert_allclose(run.evaluate()["return"], summary["eval"]["return_per_seed"], rtol=1e-5, atol=1e-6)
    params = run.seed_params(0)
    assert float(params["input_norm"]["obs"]["count"]) > 0
    policy = run.trainer.policy
    obs = jnp.asarray(np.random.default_rng(0).uniform(0, 6, size=(32, 2, policy.spec.obs_dim)), jnp.float32)
    mask = jnp.ones((32, 2, policy.action_dim), bool)

    def greedy(p):
        o, _ = policy.inputs(p, obs, jnp.zeros((32, policy.spec.state_dim)))
        _, out = jax.vmap(policy.actor_step, (None, 0, 0, 0, None))(p, jnp.zeros((32, 2, run.config.gru_size)), o,
                                                                    mask, jnp.bool_(True))
        return out.head

    fresh = {**params, "input_norm": jax.tree.map(jnp.asarray, policy.init(jax.random.PRNGKey(0))["input_norm"])}
    assert not np.allclose(greedy(params), greedy(fresh))


@pytest.mark.slow  # make test's 15-minute budget (2026-12-04)
def test_recurrent_critic_replays_the_rollout_values_from_its_stored_state():
    """The loss re-runs the GRU critic over each sequence from the critic state at the rollout's start, with the
    same episode resets: its values equal the rollout's, and they differ when the state is not replayed."""
    env = envs.make("climbing", episode_length=3, obs_mode="last_action")
    cfg = dataclasses.replace(SMALL, recurrent=True, recurrent_critic=True, gru_dense=True, num_envs=4,
                              num_steps=7, total_env_steps=4 * 7 * 3, normalize_inputs=False, value_norm=False)
    trainer = Trainer(env, cfg)
    learner, hp = trainer.learner, HParams().as_floats()
    state = trainer.init(jax.random.PRNGKey(0), hp).learner
    state, _ = learner.update(state, hp)  # so the rollout below starts mid-episode with a non-zero critic state
    assert float(jnp.max(jnp.abs(state.critic_hidden))) > 0
    state, traj, (_, hc0), _ = learner.rollout(state, hp)

    def replay(h0):
        return jax.lax.scan(lambda h, x: learner._value_step(state.params, h, *x), h0,
                            (traj.obs, traj.state, traj.start))[1]

    np.testing.assert_allclose(replay(hc0), traj.value, rtol=1e-5, atol=1e-6)
    assert not np.allclose(replay(jnp.zeros_like(hc0)), traj.value, atol=1e-4)
    out = jax.jit(make_train(env, cfg))(jax.random.PRNGKey(0), HParams())
    assert np.all(np.isfinite(out.metrics["value_loss"]))


def test_network_setups_apply_over_the_preset_and_flags_override_them(tmp_path):
    from experiments import train as cli
    from experiments.presets import NETWORKS, preset

    cfg, _ = preset("protoss_5v5", "mappo", "authors")
    assert cfg.value_norm and cfg.value_loss == "huber" and cfg.feature_norm and cfg.weight_init == "orthogonal"
    assert cfg.hidden_norm  # their MLPLayer: Linear -> ReLU -> LayerNorm
    assert cfg.num_envs == preset("protoss_5v5", "mappo")[0].num_envs  # the env preset's rollout is kept
    with pytest.raises(ValueError, match="known: preset, authors, jaxmarl"):
        preset("protoss_5v5", "mappo", "nope")
    assert set(NETWORKS) == {"preset", "authors", "jaxmarl"}
    summary = cli.main(["--env", "climbing", "--algo", "mappo", "--network", "jaxmarl", "--config.gru-size", "8",
                        "--config.hidden-sizes", "8", "--config.critic-hidden-sizes", "8", "--seeds", "4",
                        "--config.total-env-steps", "256", "--out", str(tmp_path / "r"), "--no-progress"])
    c = summary["config"]
    assert c["recurrent_critic"] and not c["agent_id"] and c["gru_dense"] and c["gru_size"] == 8
    assert summary["args"]["network"] == "jaxmarl"


def test_popart_rescale_preserves_the_denormalised_outputs():
    rng = np.random.default_rng(3)
    old = norm.value_norm_init()
    for t in (rng.normal(2.0, 3.0, 64), rng.normal(5.0, 1.0, 64)):
        old = norm.value_norm_update(old, jnp.asarray(t, jnp.float32), beta=0.9)
    new = norm.value_norm_update(old, jnp.asarray(rng.normal(40.0, 20.0, 64), jnp.float32), beta=0.9)
    kernel, bias = jnp.asarray(rng.normal(size=(6, 1)), jnp.float32), jnp.asarray([0.3], jnp.float32)
    x = jnp.asarray(rng.normal(size=(10, 6)), jnp.float32)
    k2, b2 = norm.popart_rescale(kernel, bias, old, new)
    before = norm.value_denormalize(old, x @ kernel + bias)
    np.testing.assert_allclose(norm.value_denormalize(new, x @ k2 + b2), before, rtol=1e-4, atol=1e-4)
    assert not np.allclose(norm.value_denormalize(new, x @ kernel + bias), before, rtol=1e-2)
    np.testing.assert_allclose(norm.value_renormalize(old, new, x @ kernel + bias), x @ k2 + b2, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("popart", [True, False])
def test_popart_keeps_the_critic_s_values_through_an_update_without_critic_learning(popart):
    """With a critic learning rate of ~0 the only change to the critic in an update is the ValueNorm statistics:
    PopArt's rescaled output layer gives the same denormalised values after it, plain ValueNorm does not."""
    cfg = dataclasses.replace(SMALL, popart=popart, normalize_inputs=False)
    trainer = _trainer(cfg)
    learner, hp = trainer.learner, HParams(critic_lr=1e-30, lr=1e-30).as_floats()
    state = trainer.init(jax.random.PRNGKey(0), hp).learner
    ts = state.acting.timestep

    def real_values(s):
        _, v = learner._value_step(s.params, s.critic_hidden, ts.obs, ts.state, s.acting.start)
        return norm.value_denormalize(s.value_norm, v)

    new, _ = jax.jit(learner.update)(state, hp)
    assert float(new.value_norm.debiasing_term) > 0
    if popart:
        np.testing.assert_allclose(real_values(new), real_values(state), rtol=1e-4, atol=1e-5)
    else:
        assert not np.allclose(real_values(new), real_values(state), rtol=1e-3)


def test_popart_needs_value_norm():
    with pytest.raises(ValueError, match="popart=True .* value_norm=True"):
        dataclasses.replace(SMALL, value_norm=False, popart=True).validate()


def test_encoder_critic_gives_each_agent_a_value_from_every_agent_s_observation():
    """critic_arch='encoder' (MAT-Dec's critic for any centralised-critic algorithm): one value per agent, read from
    all the agents' observations (changing agent 0's changes agent 1's value), equivariant under a permutation of
    the agents, independent of the global state; an update trains it with the critic's learning rate."""
    cfg = dataclasses.replace(SMALL, critic_arch="encoder", mat_embd=16, mat_heads=2, normalize_inputs=False)
    trainer = _trainer(cfg)
    policy, spec = trainer.policy, trainer.spec
    params = policy.init(jax.random.PRNGKey(0))
    assert "EncodeBlock_0" in params["critic"]
    rng = np.random.default_rng(0)
    # away from the initial 0.01 gains, under which the other agents' influence is ~1e-7
    params = {**params, "critic": jax.tree.map(lambda a: a + jnp.asarray(rng.normal(0, 0.5, a.shape), a.dtype),
                                               params["critic"])}
    obs = jnp.asarray(rng.normal(size=(spec.num_agents, spec.obs_dim)), jnp.float32)
    state = jnp.asarray(rng.normal(size=(spec.state_dim,)), jnp.float32)
    value = jax.jit(policy.value)  # one compile instead of op-by-op dispatch of the encoder, call after call
    v = value(params, obs, state)
    assert v.shape == (spec.num_agents,)
    np.testing.assert_allclose(value(params, obs, state * 3 + 1), v)  # the state is not read
    perm = np.roll(np.arange(spec.num_agents), 1)
    np.testing.assert_allclose(value(params, obs[perm], state), v[perm], rtol=1e-5, atol=1e-6)
    v2 = value(params, obs.at[0].set(jnp.asarray(rng.normal(size=spec.obs_dim), jnp.float32)), state)
    assert float(jnp.max(jnp.abs(v2[1:] - v[1:]))) > 1e-3
    hp = HParams(critic_lr=1e-30).as_floats()  # the encoder is in the critic's optimiser group: it must not move
    state0 = trainer.init(jax.random.PRNGKey(0), hp)
    run = jax.jit(trainer.run, static_argnums=1)
    state1, m = run(state0, 1)
    assert np.all(np.isfinite(m["value_loss"]))
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), state1.learner.params["critic"],
                         state0.learner.params["critic"])
    assert max(jax.tree.leaves(moved)) < 1e-6
    state2, _ = run(trainer.init(jax.random.PRNGKey(0), HParams().as_floats()), 1)
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), state2.learner.params["critic"],
                         state0.learner.params["critic"])
    assert max(jax.tree.leaves(moved)) > 1e-4


@pytest.mark.parametrize("change,message", [
    (dict(algo="ippo"), "algo='ippo' has local critics"),
    (dict(algo="mat_dec"), "algo='mat_dec' has the encoder already"),
    (dict(algo="masac", value_norm=False), "algo='masac' learns Q critics"),
    (dict(popart=True), "popart=True needs the MLP critic"),
    (dict(recurrent=True, recurrent_critic=True), "recurrent_critic=True needs the MLP critic"),
    (dict(mat_heads=3), "mat_heads=3 must divide mat_embd=64"),
    (dict(critic_arch="gru"), "critic_arch='gru': choose mlp or encoder"),
])
def test_encoder_critic_rejects_what_it_cannot_serve(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(SMALL, **{"critic_arch": "encoder", **change}).validate()


def test_hidden_norm_puts_a_layer_norm_after_every_hidden_layer_of_actors_and_critic():
    """hidden_norm (the MAPPO codebase's MLPLayer, the AgentMixer authors' networks): the actors' last hidden
    feature is layer-normalised per agent (zero mean, unit variance at the initial scale 1 / offset 0), and every
    hidden layer of actor and critic has its LayerNorm; without it neither holds."""
    trainer = _trainer(dataclasses.replace(SMALL, hidden_sizes=(16, 16), critic_hidden_sizes=(16, 16, 16)))
    normed = _trainer(dataclasses.replace(SMALL, hidden_sizes=(16, 16), critic_hidden_sizes=(16, 16, 16),
                                          hidden_norm=True))
    rng = np.random.default_rng(0)
    spec = trainer.spec
    obs = jnp.asarray(rng.normal(size=(spec.num_agents, spec.obs_dim)), jnp.float32)
    mask = jnp.ones((spec.num_agents, spec.action_dim), bool)
    for t, want in ((trainer, 0), (normed, 1)):
        params = t.policy.init(jax.random.PRNGKey(0))
        _, out = t.policy.actor_step(params, t.policy.initial_hidden(), obs, mask, jnp.bool_(True))
        feat = np.asarray(out.feature)
        is_normed = np.allclose(feat.mean(-1), 0, atol=1e-4) and np.allclose(feat.var(-1), 1, atol=1e-2)
        assert is_normed == bool(want)
        core = params["actor"]["shared"]["MLP_0"]
        assert sum(k.startswith("LayerNorm") for k in core) == 2 * want
        assert sum(k.startswith("LayerNorm") for k in params["critic"]["MLP_0"]) == 3 * want


def test_agent_specific_state_appends_each_agent_s_observation_to_the_critic_s_state():
    """critic_agent_obs (MAPPO's agent-specific global state): agent i's value reads the global state and agent i's
    own (normalised) observation, so changing agent 0's observation changes agent 0's value and no other; without
    it no value reads the observations. Critics that cannot take it are rejected before compiling."""
    rng = np.random.default_rng(0)
    for agent_obs in (True, False):
        policy = _trainer(dataclasses.replace(SMALL, critic_agent_obs=agent_obs)).policy
        spec = policy.spec
        params = policy.init(jax.random.PRNGKey(0))
        obs = jnp.asarray(rng.normal(size=(spec.num_agents, spec.obs_dim)), jnp.float32)
        state = jnp.asarray(rng.normal(size=(spec.state_dim,)), jnp.float32)
        width = spec.state_dim + spec.num_agents + (spec.obs_dim if agent_obs else 0)
        assert policy.critic_input(obs, state).shape == (spec.num_agents, width)
        value = jax.jit(lambda p, o, s: policy.value(p, *policy.inputs(p, o, s)))
        v = value(params, obs, state)
        v2 = value(params, obs.at[0].add(1.0), state)
        assert (float(jnp.abs(v2[0] - v[0])) > 1e-4) is agent_obs
        np.testing.assert_array_equal(v2[1:], v[1:])
    for change in (dict(algo="ippo"), dict(algo="mat_dec"), dict(algo="masac", value_norm=False),
                   dict(critic_arch="encoder")):
        with pytest.raises(ValueError, match="critic_agent_obs=True .* leave critic_agent_obs off"):
            dataclasses.replace(SMALL, critic_agent_obs=True, **change).validate()
