"""The Trainer (init / run / evaluate, train = their composition): determinism, hyperparameter vmapping, recurrent
resets, validation, retracing, chunked runs, divergence detection, seed-count invariance, sharding over devices."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agentmixer_jax.config import HParams, TrainConfig, validate_hparams
from agentmixer_jax.networks import IndividualActors
from agentmixer_jax.trainer import make_train

TINY = TrainConfig(algo="agentmixer", num_envs=8, num_steps=2, total_env_steps=8 * 2 * 4, update_epochs=2,
                   num_minibatches=2, hidden_sizes=(16,), critic_hidden_sizes=(16,), pm_channels=8,
                   pm_token_hidden=4, pm_channel_hidden=8, gru_size=8, eval_episodes=4)


@pytest.fixture(scope="module")
def tiny_train():
    return make_train(envs.make("climbing"), TINY)


def test_same_seed_same_metrics(tiny_train):
    run = jax.jit(tiny_train)
    a = run(jax.random.PRNGKey(3), HParams())
    b = run(jax.random.PRNGKey(3), HParams())
    c = run(jax.random.PRNGKey(4), HParams())
    chex.assert_trees_all_equal(a.metrics, b.metrics)
    chex.assert_trees_all_equal(a.params, b.params)
    assert not np.allclose(a.metrics["policy_loss"], c.metrics["policy_loss"])


# make test's 15-minute budget (2026-12-04); the scan's per-setting equality (test_scan.py) and SAC's twin stay fast
@pytest.mark.slow
def test_vmapped_learning_rates_match_separate_runs(tiny_train):
    hp, in_axes, combos = HParams().grid(lr=[1e-4, 3e-3])
    key = jax.random.PRNGKey(0)
    swept = jax.jit(jax.vmap(tiny_train, in_axes=(None, in_axes)))(key, hp)
    for i, combo in enumerate(combos):
        single = jax.jit(tiny_train)(key, HParams(**combo))
        chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], swept.metrics), single.metrics, rtol=2e-4,
                                    atol=2e-5)
    assert not np.allclose(swept.metrics["policy_loss"][0], swept.metrics["policy_loss"][1])


def test_train_traces_once():
    train = make_train(envs.make("climbing"), TINY)
    counted = jax.jit(chex.assert_max_traces(train, n=1))
    counted(jax.random.PRNGKey(0), HParams().as_floats())
    counted(jax.random.PRNGKey(1), HParams(lr=1e-3).as_floats())  # new values, same shapes: no retrace


def test_gru_state_resets_at_episode_start():
    actor = IndividualActors(num_agents=2, action_dim=3, discrete=True, recurrent=True, gru_size=8)
    obs = jax.random.normal(jax.random.PRNGKey(0), (2, 5))
    mask = jnp.ones((2, 3), bool)
    params = actor.init(jax.random.PRNGKey(1), actor.initial_state(), obs, mask, jnp.bool_(True))
    h_busy = jax.random.normal(jax.random.PRNGKey(2), (2, 8))
    h_fresh, out_fresh = actor.apply(params, actor.initial_state(), obs, mask, jnp.bool_(False))
    h_reset, out_reset = actor.apply(params, h_busy, obs, mask, jnp.bool_(True))
    _, out_carry = actor.apply(params, h_busy, obs, mask, jnp.bool_(False))
    np.testing.assert_allclose(out_reset.head, out_fresh.head, rtol=1e-6)
    np.testing.assert_allclose(h_reset, h_fresh, rtol=1e-6)
    assert not np.allclose(out_carry.head, out_fresh.head)


# agentmixer under -m slow: make test's 15-minute budget (issue 15); mappo's case exercises the same replay
@pytest.mark.parametrize("algo", [pytest.param("agentmixer", marks=pytest.mark.slow), "mappo"])
def test_recurrent_minibatches_replay_rollout_hidden_states(algo):
    """With one epoch and one minibatch the first loss sees the rollout policy exactly (ratio 1, KL 0)
    only if the update re-runs the GRU from the stored initial state with the same episode resets."""
    env = envs.make("climbing", episode_length=3, obs_mode="last_action")
    cfg = dataclasses.replace(TINY, algo=algo, recurrent=True, num_envs=4, num_steps=7, total_env_steps=4 * 7 * 3,
                              update_epochs=1, num_minibatches=1)
    out = jax.jit(make_train(env, cfg))(jax.random.PRNGKey(0), HParams())
    np.testing.assert_allclose(out.metrics["approx_kl"], 0.0, atol=1e-6)
    np.testing.assert_allclose(out.metrics["clip_fraction"], 0.0)
    # ... and the check can fail: with two minibatches the second one sees updated parameters
    cfg2 = dataclasses.replace(cfg, num_minibatches=2)
    out2 = jax.jit(make_train(env, cfg2))(jax.random.PRNGKey(0), HParams(lr=1e-2, pm_lr=1e-2))
    assert float(np.max(out2.metrics["approx_kl"])) > 1e-6


def test_config_errors_name_the_field_and_fix():
    with pytest.raises(ValueError, match="num_minibatches=3 must divide"):
        dataclasses.replace(TINY, num_minibatches=3).validate()
    with pytest.raises(ValueError, match="num_envs"):
        dataclasses.replace(TINY, recurrent=True, num_envs=6, num_minibatches=4).validate()
    with pytest.raises(ValueError, match="total_env_steps"):
        dataclasses.replace(TINY, total_env_steps=3).validate()
    with pytest.raises(ValueError, match="algo"):
        dataclasses.replace(TINY, algo="qmix").validate()
    with pytest.raises(ValueError, match="gamma"):
        validate_hparams(HParams(gamma=1.5))
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        HParams().grid(learning_rate=[1.0])


def test_metrics_are_small_per_update(tiny_train):
    out = jax.jit(tiny_train)(jax.random.PRNGKey(0), HParams())
    for name, value in out.metrics.items():
        assert value.shape == (TINY.num_updates,), name
    assert set(out.eval) >= {"return", "length", "optimal", "ce_epsilon", "payoff"}


def test_per_agent_actor_parameters():
    """share_actor_params=False gives each agent its own actor (a leading agent axis on every weight)."""
    cfg = dataclasses.replace(TINY, algo="mappo", share_actor_params=False)
    train = make_train(envs.make("climbing"), cfg)
    out = jax.jit(train)(jax.random.PRNGKey(0), HParams())
    kernels = [x for x in jax.tree.leaves(out.params["actor"]) if x.ndim == 3]
    assert kernels and all(k.shape[0] == 2 for k in kernels)
    assert not np.allclose(kernels[0][0], kernels[0][1])


# ----- the Trainer's three functions -------------------------------------------------------------------
def test_train_is_init_run_evaluate_and_chunks_compose(tiny_train):
    """train(key, hp) = evaluate(run(init(key, hp), U)), and run(run(s, 2), 2) = run(s, 4): the state carries
    everything. Different programs (one jit for the whole run, scans of 2 or 4) may round differently, hence the
    tolerance; the CLI's resume is bitwise because it reruns the same chunk program (tests/test_cli.py)."""
    trainer = tiny_train.trainer
    key, hp = jax.random.PRNGKey(5), HParams().as_floats()
    whole = jax.jit(tiny_train)(key, hp)
    init = jax.jit(trainer.init)
    run = jax.jit(trainer.run, static_argnums=1)
    state, metrics = run(init(key, hp), TINY.num_updates)
    close = dict(rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(state.learner.params, whole.params, **close)
    chex.assert_trees_all_close(metrics, whole.metrics, **close)
    chex.assert_trees_all_close(jax.jit(trainer.evaluate)(state), whole.eval, **close)
    assert int(state.update) == TINY.num_updates == 4
    half, m1 = run(init(key, hp), 2)
    chunked, m2 = run(half, 2)
    chex.assert_trees_all_close(chunked, state, **close)  # everything: params, optimiser, envs, keys, counter
    chex.assert_trees_all_equal(chunked.learner.key, state.learner.key)
    chex.assert_trees_all_close(jax.tree.map(lambda a, b: jnp.concatenate([a, b]), m1, m2), metrics, **close)
    again, _ = run(half, 2)
    chex.assert_trees_all_equal(again, chunked)  # the same program on the same state: bit for bit


def test_finite_flags_a_diverged_seed(tiny_train):
    trainer = tiny_train.trainer
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0), HParams().as_floats())
    metrics = {"policy_loss": jnp.zeros(3)}
    assert bool(trainer.finite(state, metrics))
    assert not bool(trainer.finite(state, {"policy_loss": jnp.array([0.0, jnp.nan, 0.0])}))
    poisoned = state.replace(learner=state.learner.replace(
        params=jax.tree.map(lambda x: x.at[..., 0].set(jnp.inf), state.learner.params)))
    assert not bool(trainer.finite(poisoned, metrics))


def test_an_infinite_learning_rate_is_detected_as_divergence():
    """The user error of the issue: lr=inf (now rejected by validation) makes every parameter NaN after one update;
    the Seeds program reports every seed non-finite instead of scoring argmax(NaN) = action 0 as optimal."""
    from agentmixer_jax.trainer import Seeds, Trainer

    seeds = Seeds(Trainer(envs.make("climbing"), dataclasses.replace(TINY, algo="mappo")), num_seeds=2)
    state = seeds.init(seeds.keys(0), HParams(lr=float("inf")))
    state, _, finite = seeds.run(state, 1)
    assert not np.any(np.asarray(finite))
    state = seeds.init(seeds.keys(0), HParams())
    state, _, finite = seeds.run(state, 1)
    assert np.all(np.asarray(finite))


def test_seed_results_do_not_depend_on_the_number_of_seeds():
    """Seed i's key is fold_in(base, i), and XLA's CPU reductions do not change with the batch (agentmixer_jax sets
    the flag; without it seeds 0-3 of this 16-seed run drift from the 4-seed run): bitwise equal parameters and
    evaluation, metrics to rounding. (Below 4 seeds per device XLA vectorises differently: see __init__.py.)"""
    from agentmixer_jax import CPU_FLAGS_ACTIVE
    from agentmixer_jax.trainer import Seeds, Trainer

    assert CPU_FLAGS_ACTIVE, "a JAX array was made before agentmixer_jax was imported: tests/conftest.py imports it"
    trainer = Trainer(envs.make("climbing"), dataclasses.replace(TINY, algo="mappo"))
    out = {}
    for n in (4, 16):
        seeds = Seeds(trainer, n)
        state, metrics, _ = seeds.run(seeds.init(seeds.keys(7), HParams()), TINY.num_updates)
        out[n] = (state.learner.params, metrics, seeds.evaluate(state))
    small, large = out[4], jax.tree.map(lambda x: x[:4], out[16])
    chex.assert_trees_all_equal(small[0], large[0])
    chex.assert_trees_all_equal(small[2], large[2])
    chex.assert_trees_all_close(small[1], large[1], rtol=1e-6, atol=1e-7)
    head = out[16][0]["actor"]["shared"]["head"]["kernel"]
    assert not np.allclose(head[2], head[3])  # different seeds differ


SHARDED_SCRIPT = """
import agentmixer_jax, dataclasses, jax, numpy as np, envs, chex
from agentmixer_jax.config import HParams
from agentmixer_jax.trainer import Seeds, Trainer
from tests.test_trainer import TINY
assert len(jax.devices()) == 2, jax.devices()
trainer = Trainer(envs.make("climbing"), dataclasses.replace(TINY, algo="mappo"))
results = []
for devices in (jax.devices()[:1], jax.devices()):
    seeds = Seeds(trainer, 8, devices=devices)
    state, metrics, finite = seeds.run(seeds.init(seeds.keys(0), HParams()), TINY.num_updates)
    ev = seeds.evaluate(state)
    shards = {len(x.sharding.device_set) for x in jax.tree.leaves(state)}
    results.append((jax.device_get(state.learner.params), jax.device_get(ev), shards))
assert results[0][2] == {1} and results[1][2] == {2}, (results[0][2], results[1][2])
chex.assert_trees_all_equal(results[0][0], results[1][0])
chex.assert_trees_all_equal(results[0][1], results[1][1])
print("sharded ok")
"""


def test_seeds_shard_over_devices_with_the_single_device_results():
    """With two (forced host) devices, 8 seeds are split 4 + 4 and give bitwise the single-device results. Its
    XLA_FLAGS replace the suite's on purpose: it compiles at XLA's default optimisation level and with the unrolled
    Threefry lowering, as users' runs do (conftest.py), so the seed-count invariance is also checked where
    vectorisation is at its widest."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "AGENTMIXER_JAX_ROLLED_THREEFRY"}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", SHARDED_SCRIPT], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sharded ok" in proc.stdout


def test_seed_devices_use_as_many_devices_as_divide_the_seeds():
    from agentmixer_jax.trainer import seed_devices

    fake = ["d0", "d1", "d2", "d3"]
    assert seed_devices(8, fake) == fake
    assert seed_devices(6, fake) == ["d0", "d1", "d2"]
    assert seed_devices(1, fake) == ["d0"]
    assert seed_devices(7, fake) == ["d0"]


def test_presets_and_cli_derive_their_algorithms_from_the_registry():
    import typing

    from agentmixer_jax import registry
    from experiments import presets, train

    assert set(typing.get_args(train.AlgoName)) == set(registry.names())
    for env_name, (_, _, per_algo) in presets.PRESETS.items():
        assert set(per_algo) <= set(registry.names()), env_name
    with pytest.raises(ValueError, match="choose one of agentmixer, agentmixer_authors, .*mappo"):
        presets.preset("climbing", "qmix")
    cfg, hp = presets.preset("climbing", "agentmixer")
    assert cfg.algo == "agentmixer" and hp.pm_lr == presets.PRESETS["climbing"][2]["agentmixer"]["pm_lr"]
    assert cfg.pm_form == "joint"  # per-algorithm presets may set TrainConfig fields too
    authors, authors_hp = presets.preset("penalty", "agentmixer_authors")
    assert (authors.pm_form, authors.tau_schedule, authors_hp.pm_y) == ("authors", "cosine", 0.5)
    assert authors.share_actor_params is False  # one actor per agent, as the authors' runner builds them
    # the authors' value and network settings, over the env preset (predator-prey's running input normalisation off)
    pp_authors = presets.preset("predator_prey_authors_p1", "agentmixer_authors")[0]
    for cfg in (authors, pp_authors):
        assert (cfg.value_norm, cfg.value_loss, cfg.feature_norm, cfg.hidden_norm, cfg.weight_init,
                cfg.normalize_inputs) == (True, "huber", True, True, "orthogonal", False)
        # their Policy Modifier at their sizes, over the env presets' 16-channel PM
        assert (cfg.pm_arch, cfg.pm_channels, cfg.pm_token_hidden, cfg.pm_channel_hidden) == ("authors", 64, 32, 256)
    assert presets.preset("predator_prey_authors_p1", "agentmixer_joint")[0].normalize_inputs is True
    assert presets.preset("penalty", "agentmixer_joint")[0].value_norm is False
    assert presets.preset("penalty", "agentmixer_joint")[0].pm_arch == "mixer"
    assert presets.preset("penalty", "agentmixer")[0].share_actor_params is True
    assert presets.preset("climbing", "mappo")[1].pm_lr == HParams().pm_lr


def test_every_hyperparameter_has_an_allowed_range():
    from agentmixer_jax.config import HPARAM_RANGES, describe_range

    assert set(HPARAM_RANGES) == set(HParams.names())
    assert describe_range("lr") == "a finite number > 0"
    assert describe_range("gamma") == "a number in [0, 1]"
    for bad in (float("inf"), float("nan"), -1.0):
        with pytest.raises(ValueError, match="hp.lr="):
            validate_hparams(HParams(lr=bad))
    validate_hparams(HParams(lr=1e30))  # finite: allowed (and caught as divergence if it blows up)


def test_guarded_step_stops_for_the_rest_of_the_update_once_the_kl_exceeds_its_target():
    """Stable-Baselines3's rule: a step is skipped when its minibatch's KL (measured before it) exceeds 1.5 x
    target_kl, and so is every later step of the update; target_kl = 0 never stops."""
    import optax

    from agentmixer_jax.learners.ppo import guarded_step

    tx = optax.adam(0.1)
    params = {"w": jnp.arange(3.0)}
    grads = {"w": jnp.ones(3)}
    opt = tx.init(params)
    updates, opt_moved = tx.update(grads, opt, params)
    moved = optax.apply_updates(params, updates)
    target = jnp.float32(0.01)
    p, o, stopped = guarded_step(tx, params, opt, jnp.bool_(False), grads, jnp.float32(0.0149), target)
    chex.assert_trees_all_equal((p, o, stopped), (moved, opt_moved, jnp.bool_(False)))  # under 1.5 x target: a step
    p, o, stopped = guarded_step(tx, params, opt, jnp.bool_(False), grads, jnp.float32(0.0151), target)
    chex.assert_trees_all_equal((p, o, stopped), (params, opt, jnp.bool_(True)))  # over: no step
    p, o, stopped = guarded_step(tx, params, opt, jnp.bool_(True), grads, jnp.float32(0.0), target)
    chex.assert_trees_all_equal((p, o, stopped), (params, opt, jnp.bool_(True)))  # stays stopped
    p, o, stopped = guarded_step(tx, params, opt, jnp.bool_(False), grads, jnp.float32(1e9), jnp.float32(0.0))
    chex.assert_trees_all_equal((p, o, stopped), (moved, opt_moved, jnp.bool_(False)))  # 0: off


@pytest.mark.parametrize("algo", ["mappo", "happo"])
def test_target_kl_ends_the_epochs_early(algo):
    """A tiny target_kl lets the first steps of an update through (the KL to the behaviour policy is ~0 before the
    first step) and skips the rest: the parameters move less than with every epoch; 0 (off) and a target never
    reached give bitwise the same run."""
    cfg = dataclasses.replace(TINY, algo=algo, share_actor_params=algo == "mappo", total_env_steps=8 * 2 * 2)
    make = make_train(envs.make("climbing"), cfg)
    train = jax.jit(make)
    key = jax.random.PRNGKey(0)
    off = train(key, HParams(lr=1e-2, target_kl=0.0))
    never = train(key, HParams(lr=1e-2, target_kl=1e6))
    tiny = train(key, HParams(lr=1e-2, target_kl=1e-6))
    chex.assert_trees_all_equal(off.params, never.params)
    np.testing.assert_array_equal(off.metrics["kl_stop"], 0.0)
    stop = np.asarray(tiny.metrics["kl_stop"])
    assert np.all(stop > 0) and np.all(stop < 1), stop  # some steps skipped, not all
    start = jax.jit(make.trainer.init)(key, HParams().as_floats()).learner.params["actor"]
    dist = lambda p: sum(float(jnp.sum((a - b) ** 2)) for a, b in zip(jax.tree.leaves(p["actor"]),
                                                                          jax.tree.leaves(start)))
    assert dist(tiny.params) < 0.5 * dist(off.params), (dist(tiny.params), dist(off.params))


def test_target_kl_is_rejected_where_no_epochs_run():
    from agentmixer_jax import registry

    with pytest.raises(ValueError, match="target_kl=0.01 stops PPO's epochs early; masac learns by SAC"):
        registry.check_hparams("masac", HParams(target_kl=0.01))
    registry.check_hparams("masac", HParams())
    registry.check_hparams("happo", HParams(target_kl=0.01))
    with pytest.raises(ValueError, match="hp.target_kl=-1 is out of range"):
        validate_hparams(HParams(target_kl=-1.0))
