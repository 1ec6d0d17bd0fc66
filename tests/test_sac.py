"""The SAC learner (MASAC, AgentMixer-SAC): the soft Bellman target, Polyak averaging, the replay buffer, the
entropy temperature, hyperparameter vmapping, squashed continuous actions, bad settings, and learning."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.learners.sac import alpha_loss, buffer_count, polyak, soft_target
from agentmixer_jax.trainer import Trainer, make_train
from envs.core import Box, EnvSpec, MultiAgentEnv, TimeStep


class TargetGame(MultiAgentEnv):
    """A one-step continuous game for fast checks: two agents, two dimensions each in the box [0, 2] (not
    centred on 0, so the squashing's affine map matters); team reward -|a - TARGET|^2. Info: the distance to the
    target and the lowest and highest action component the environment received."""

    num_agents = 2
    target = jnp.array([[0.5, 1.5], [1.2, 0.3]])

    def default_params(self):
        return None

    def spec(self, params):
        return EnvSpec(num_agents=2, obs_dim=1, state_dim=1, action_space=Box(0.0, 2.0, 2))

    def _timestep(self, reward, done, action):
        info = {"distance": jnp.sqrt(jnp.sum((action - self.target) ** 2)), "lowest": jnp.min(action),
                "highest": jnp.max(action)}
        return TimeStep(obs=jnp.ones((2, 1)), state=jnp.ones((1,)), action_mask=jnp.ones((2, 2), bool),
                        reward=reward, terminated=done, truncated=jnp.bool_(False), info=info)

    def reset(self, key, params):
        return jnp.int32(0), self._timestep(jnp.zeros(2), jnp.bool_(False), self.target)

    def step(self, key, state, action, params):
        reward = -jnp.sum((action - self.target) ** 2)
        return state, self._timestep(jnp.full((2,), reward), jnp.bool_(True), action)


TINY = TrainConfig(algo="masac", num_envs=8, num_steps=2, total_env_steps=8 * 2 * 4, hidden_sizes=(16,),
                   critic_hidden_sizes=(16,), pm_channels=8, pm_token_hidden=4, pm_channel_hidden=8,
                   buffer_size=64, sac_batch_size=16, utd_ratio=2 / 16, warmup_steps=16, eval_episodes=4)


@pytest.fixture(scope="module")
def tiny_train():
    return make_train(envs.make("climbing"), TINY)


def test_soft_bellman_target_by_hand():
    """y = r + gamma (1 - terminated) (V' - sum_g alpha_g log pi_g): a truncated transition (terminated False)
    bootstraps from its final observation's value; a terminated one does not."""
    reward = jnp.array([1.0, 2.0])
    terminated = jnp.array([False, True])  # row 0: truncated by the time limit, row 1: a real ending
    next_value = jnp.array([5.0, 7.0])
    next_log_prob = jnp.array([[-1.0, -3.0], [-2.0, -2.0]])  # two agents, per-agent temperatures
    alpha = jnp.array([0.5, 0.1])
    y = soft_target(reward, terminated, next_value, next_log_prob, alpha, 0.9)
    want0 = 1.0 + 0.9 * (5.0 - (0.5 * -1.0 + 0.1 * -3.0))  # 1 + 0.9 * 5.8
    np.testing.assert_allclose(np.asarray(y), [want0, 2.0], rtol=1e-6)


def test_collected_transitions_keep_termination_and_truncation_apart():
    """On a time-limited task every episode end is a truncation: stored as not terminated, with the final
    observation (not the reset's) as the next observation, so the target bootstraps there."""
    env = envs.make("predator_prey")
    params = env.default_params().replace(max_steps=jnp.int32(4))
    cfg = dataclasses.replace(TINY, num_envs=2, num_steps=8, total_env_steps=16, buffer_size=64, warmup_steps=0)
    trainer = Trainer(env, cfg, env_params=params)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0), HParams().as_floats())
    state, metrics = jax.jit(trainer.run, static_argnums=1)(state, 1)
    exp = jax.tree.map(lambda x: np.asarray(x[0, :16]), state.learner.buffer.experience)
    assert int(buffer_count(state.learner.buffer)) == 16
    assert not exp.terminated.any()  # 4 episodes ended, all by the time limit
    assert float(metrics["episodes"][0]) > 0
    # time-major (T=8, E=2): env e's step t at row 2 t + e; the next observation of a mid-episode step is the
    # observation of the env's next step, that of a final step (t = 3, 7) is not (the env reset)
    obs, nxt = exp.obs.reshape(8, 2, -1), exp.next_obs.reshape(8, 2, -1)
    np.testing.assert_array_equal(nxt[:2], obs[1:3])
    assert not np.array_equal(nxt[3], obs[4])


def test_polyak_moves_the_targets_a_fraction_toward_the_critics(tiny_train):
    target, online = {"w": jnp.array([0.0, 4.0])}, {"w": jnp.array([2.0, 0.0])}
    chex.assert_trees_all_close(polyak(target, online, 0.25), {"w": jnp.array([0.5, 3.0])})
    trainer = tiny_train.trainer
    hp = HParams(polyak=0.1).as_floats()
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0), hp)
    state, _ = jax.jit(trainer.run, static_argnums=1)(state, 1)  # fill the buffer (warm-up: one update)
    learner = trainer.learner
    txs = learner.optimizers(state.learner.params, hp)
    after, _ = jax.jit(lambda s, k: learner.gradient_step(s, hp, txs, k))(state.learner, jax.random.PRNGKey(1))
    chex.assert_trees_all_close(after.q_target, polyak(state.learner.q_target, after.q, 0.1), rtol=1e-6)
    assert not np.allclose(jax.tree.leaves(after.q)[0], jax.tree.leaves(state.learner.q)[0])


def test_buffer_samples_only_written_entries_and_wraps(tiny_train):
    """A 64-slot buffer: after 10 transitions it samples only those; after 100 it holds the last 64."""
    learner = tiny_train.trainer.learner
    state = jax.jit(tiny_train.trainer.init)(jax.random.PRNGKey(0), HParams().as_floats()).learner
    item = jax.tree.map(lambda x: x[0, 0], state.buffer.experience)

    def add(buffer, first, count):
        ids = jnp.arange(first, first + count, dtype=jnp.float32)
        items = jax.tree.map(lambda x: jnp.broadcast_to(x, (count, *x.shape)), item).replace(reward=ids)
        return learner.buffer.add(buffer, items)

    def sampled(buffer):
        keys = jax.random.split(jax.random.PRNGKey(2), 200)
        return np.asarray(jax.vmap(lambda k: learner.buffer.sample(buffer, k).experience.reward)(keys)).ravel()

    buffer = add(state.buffer, 1, 10)
    assert int(buffer_count(buffer)) == 10
    got = sampled(buffer)
    assert set(got) == set(range(1, 11))  # every written entry, nothing else (no zeros of empty slots)
    buffer = add(add(buffer, 11, 45), 56, 45)  # 100 written, 64 slots: the first 36 overwritten
    assert int(buffer_count(buffer)) == 64
    got = sampled(buffer)
    assert got.min() >= 37 and set(got) == set(range(37, 101))


def test_entropy_temperature_moves_toward_its_target(tiny_train):
    """The gradient raises alpha when the entropy (-log pi) is below its target and lowers it when above; in
    training, a target above the maximum entropy raises alpha, a low one lowers it."""
    log_alpha = jnp.zeros((2,))
    target = jnp.array([1.0, 1.0])
    low_entropy = jnp.full((4, 2), -0.2)  # entropy 0.2 < 1
    high_entropy = jnp.full((4, 2), -3.0)  # entropy 3 > 1
    assert np.all(np.asarray(jax.grad(alpha_loss)(log_alpha, low_entropy, target)) < 0)  # descent raises alpha
    assert np.all(np.asarray(jax.grad(alpha_loss)(log_alpha, high_entropy, target)) > 0)
    hp, axes, _ = HParams(alpha_lr=0.05).grid(target_entropy_scale=[1.5, 0.05])  # 1.5 x 0.98 log 3 > log 3
    alpha = jax.jit(jax.vmap(tiny_train, in_axes=(None, axes)))(jax.random.PRNGKey(0), hp).metrics["alpha"]
    assert float(alpha[0, -1]) > 1.0 > float(alpha[1, -1])


def test_vmapped_learning_rates_match_separate_runs_without_retracing(tiny_train):
    hp, in_axes, combos = HParams().grid(critic_lr=[1e-4, 3e-3])
    key = jax.random.PRNGKey(0)
    swept = jax.jit(jax.vmap(tiny_train, in_axes=(None, in_axes)))(key, hp)
    single_run = jax.jit(chex.assert_max_traces(make_train(envs.make("climbing"), TINY), n=1))
    for i, combo in enumerate(combos):
        single = single_run(key, HParams(**combo).as_floats())  # new values, same shapes: traced once
        chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], swept.metrics), single.metrics, rtol=2e-4,
                                    atol=2e-5)
        assert all(v.shape == (TINY.num_updates,) for v in single.metrics.values())  # small per-update metrics
    assert not np.allclose(swept.metrics["q_loss"][0], swept.metrics["q_loss"][1])


@pytest.mark.slow
@pytest.mark.parametrize("covariance", ["full", "lowrank", "diag"])
def test_agentmixer_sac_on_mamujoco_is_squashed_into_the_box(covariance):
    """AgentMixer-SAC on halfcheetah_2x3, every covariance option: one update learns with finite losses, and the
    stored pre-squash samples reach the env inside its box."""
    env = envs.make("halfcheetah_2x3")
    cfg = dataclasses.replace(TINY, algo="agentmixer_sac", covariance=covariance, num_envs=2, num_steps=4,
                              total_env_steps=8, buffer_size=32, sac_batch_size=8, utd_ratio=1 / 8,
                              warmup_steps=0)
    trainer = Trainer(env, cfg)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0), HParams().as_floats())
    state, metrics = jax.jit(trainer.run, static_argnums=1)(state, 1)
    assert np.isfinite(np.asarray(metrics["q_loss"])).all() and float(metrics["learning"][0]) == 1.0
    action = np.asarray(state.learner.buffer.experience.action[0, :8])
    assert np.abs(action).max() > 0  # the stored pre-squash sample
    assert trainer.acting.squash
    env_action = np.asarray(trainer.acting.to_env_action(jnp.asarray(action)))
    box = env.spec(env.default_params()).action_space
    assert (env_action >= np.asarray(box.low) - 1e-6).all() and (env_action <= np.asarray(box.high) + 1e-6).all()


@pytest.mark.parametrize("algo, covariance", [("masac", "diag"),
                                              pytest.param("agentmixer_sac", "full", marks=pytest.mark.slow),
                                              pytest.param("agentmixer_sac", "diag", marks=pytest.mark.slow),
                                              pytest.param("agentmixer_sac", "lowrank", marks=pytest.mark.slow)])
def test_continuous_sac_learns_a_target_inside_an_offset_box(algo, covariance):
    """The fast learning check, continuous (MASAC; AgentMixer-SAC's covariances under -m slow): 8 seeds, 100
    updates. The greedy action (tanh of the mean, mapped onto the box [0, 2]) starts at the box's centre, 1.01
    from the target; both algorithms end within 0.4 on average, and every action the env receives is inside the
    box."""
    cfg = dataclasses.replace(TINY, algo=algo, covariance=covariance, num_envs=32, num_steps=1,
                              total_env_steps=32 * 100, hidden_sizes=(32,), critic_hidden_sizes=(32,),
                              buffer_size=4096, sac_batch_size=64, utd_ratio=4 / 32, warmup_steps=256)
    train = make_train(TargetGame(), cfg)
    hp = HParams(lr=3e-3, critic_lr=3e-3, pm_lr=3e-3, alpha_init=0.1, std_max=2.0)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(0), i))(jnp.arange(8))
    result = jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, hp)
    assert np.isfinite(np.asarray(result.metrics["q_loss"])).all()
    assert float(np.mean(result.eval["distance"])) < 0.4
    assert float(np.min(result.eval["lowest"])) >= 0.0 and float(np.max(result.eval["highest"])) <= 2.0
    assert float(np.min(result.metrics["episode_lowest"])) >= 0.0  # the sampled training actions too
    assert float(np.max(result.metrics["episode_highest"])) <= 2.0


def test_tanh_squash_log_determinant():
    """log |d tanh(u) / du| = log(1 - tanh(u)^2) summed over the owned dimensions, finite far into the tails."""
    from agentmixer_jax.distributions import tanh_squash

    u = jnp.array([[0.3, -1.2, 2.0], [0.5, 30.0, -40.0]])
    mask = jnp.array([[True, True, False], [True, True, True]])
    squashed, log_det = tanh_squash(u, mask)
    want = np.log(1 - np.tanh(np.asarray(u[0, :2], np.float64)) ** 2)  # (row 1's tails underflow in float64)
    np.testing.assert_allclose(np.asarray(log_det)[0], want.sum(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(log_det)[1], 2 * (np.log(2) - 0.5 - np.log1p(np.exp(-1.0)))
                               + 2 * (np.log(2) - 30) + 2 * (np.log(2) - 40), rtol=1e-5)
    assert float(squashed[0, 2]) == 0.0 and np.isfinite(np.asarray(log_det)).all()


def test_off_policy_settings_that_cannot_work_are_refused_before_compiling():
    climbing = envs.make("climbing")
    cases = [
        (dict(utd_ratio=0.3), "utd_ratio"),
        (dict(buffer_size=8), "buffer_size"),
        (dict(recurrent=True, num_minibatches=1), "recurrent"),
        (dict(algo="agentmixer_sac", pm_form="gumbel"), "pm_form='joint'"),
        (dict(algo="agentmixer_sac", pm_form="autoregressive"), "autoregressive"),
    ]
    for change, words in cases:
        with pytest.raises(ValueError, match=words.replace("(", r"\(")):
            Trainer(climbing, dataclasses.replace(TINY, **change))
    with pytest.raises(ValueError, match="sac_discrete='gumbel'"):
        Trainer(envs.make("protoss_5v5"), TINY)  # 11^5 joint actions: no exact expectation
    Trainer(envs.make("protoss_5v5"), dataclasses.replace(TINY, sac_discrete="gumbel"))  # fine


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["masac", "agentmixer_sac"])
def test_sac_learns_the_climbing_game(algo):
    """Learning check at the climbing preset, 16 seeds: both learn (above the random policy's -2.8); the joint
    policy of AgentMixer-SAC reaches the optimum (11) where MASAC's product of individual policies stops at a
    Nash equilibrium (7 or 5)."""
    from experiments.presets import preset

    cfg, hp = preset("climbing", algo)
    train = make_train(envs.make("climbing"), cfg)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(0), i))(jnp.arange(16))
    result = jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, hp)
    ret = np.asarray(result.eval["return"])
    assert np.isfinite(np.asarray(result.metrics["q_loss"])).all()
    assert ret.mean() > 4.0
    if algo == "agentmixer_sac":
        assert np.mean(np.asarray(result.eval["optimal"])) >= 0.75


SAC_CLI = ["--env", "climbing", "--algo", "masac", "--seeds", "2", "--config.total-env-steps", "768",
           "--config.log-every", "2", "--config.warmup-steps", "128", "--config.buffer-size", "2048",
           "--checkpoint-every", "0", "--no-progress", "--no-checkpoint"]


@pytest.mark.slow  # 15-min budget (issue 15); test_cli's Ctrl-C / resume stays fast
def test_ctrl_c_and_resume_with_and_without_the_replay_buffer(tmp_path, monkeypatch):
    """Ctrl-C at update 4 of 12 saves the whole state, replay buffer included, and --resume ends bitwise equal to
    an uninterrupted run. With --no-checkpoint-buffer the checkpoint leaves the buffer out, and the resumed run
    refills its buffer and still finishes with finite metrics."""
    import signal
    from pathlib import Path

    from agentmixer_jax import reporting
    from experiments import train as cli

    report = reporting.Reporter.__call__

    def ctrl_c_at_4(self, done, metrics, diverged=0):
        report(self, done, metrics, diverged)
        if done == 4:
            signal.raise_signal(signal.SIGINT)

    whole = cli.main([*SAC_CLI, "--out", str(tmp_path / "whole")])
    a = np.load(tmp_path / "whole" / "metrics.npz")
    for keep in (True, False):
        args = SAC_CLI + ([] if keep else ["--no-checkpoint-buffer"])
        out = tmp_path / f"cut_{keep}"
        monkeypatch.setattr(reporting.Reporter, "__call__", ctrl_c_at_4)
        with pytest.raises(SystemExit) as err:
            cli.main([*args, "--out", str(out)])
        assert err.value.code == 130
        monkeypatch.undo()
        # the saved tree (orbax's _METADATA files name every array) holds the buffer's arrays only with keep
        meta = "".join(f.read_text(errors="ignore") for f in Path(out / "checkpoints").rglob("_METADATA"))
        assert ("'experience'" in meta) == keep and "'opt_state'" in meta
        resumed = cli.main(["--resume", str(out), "--no-progress"])
        assert resumed["status"] == "finished" and resumed["updates_done"] == 12
        b = np.load(out / "metrics.npz")
        if keep:
            assert resumed["eval"] == whole["eval"]
            for k in a.files:
                np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            assert np.isfinite(b["q_loss_per_seed"]).all()
            # update 5 starts from an empty buffer: one rollout of 64 where the uninterrupted run had 320
            assert b["buffer_size_per_seed"][0, 4] == 64 < a["buffer_size_per_seed"][0, 4]
