"""Learning checks on the matrix games: rates across many vmapped seeds, with margins."""

import dataclasses

import jax
import numpy as np
import pytest

import envs
from agentmixer_jax.trainer import make_train
from experiments.presets import preset

SEEDS = 64


def _run(env_name: str, algo: str, options, seeds: int = SEEDS, **cfg_overrides):
    """options: the `xla_run_options` fixture (conftest.py): these programs run long enough to compile fully."""
    cfg, hp = preset(env_name, algo)
    cfg = dataclasses.replace(cfg, **cfg_overrides)
    train = make_train(envs.make(env_name), cfg)
    keys = jax.random.split(jax.random.PRNGKey(2024), seeds)
    return jax.jit(jax.vmap(train, in_axes=(0, None)), compiler_options=options)(keys, hp.as_floats())


# ippo (2026-12-04) and mappo (2026-12-05) under -m slow: make test's 15-minute budget; AgentMixer stays fast
@pytest.mark.parametrize("algo", ["agentmixer", pytest.param("mappo", marks=pytest.mark.slow),
                                  pytest.param("ippo", marks=pytest.mark.slow)])
def test_climbing_greedy_policies_reach_an_equilibrium(algo, xla_run_options):
    """Untrained greedy agents play each of the 9 joint actions about equally often (mean payoff -3.9, a
    pure Nash equilibrium 2/9 of the time). After training, most seeds must sit at a pure Nash equilibrium
    of the game ((0,0) paying 11 or (1,1) paying 7: CE epsilon 0) and the mean greedy payoff must exceed 5."""
    out = _run("climbing", algo, xla_run_options)
    eps = np.asarray(out.eval["ce_epsilon"])
    ret = np.asarray(out.eval["return"])
    assert np.mean(eps == 0.0) >= 0.75, np.mean(eps == 0.0)
    assert ret.mean() >= 5.0, ret.mean()
    if algo == "agentmixer":  # the preset's joint-action PM coordinates: the optimum, not just an equilibrium
        assert np.mean(np.asarray(out.eval["optimal"])) >= 0.9, np.mean(np.asarray(out.eval["optimal"]))
    # the training return rises from the random level
    curve = np.asarray(out.metrics["episode_return"]).mean(0)
    assert curve[-5:].mean() > curve[:5].mean() + 5.0


@pytest.mark.slow
@pytest.mark.parametrize("env_name", ["climbing", "penalty"])
def test_agentmixer_joint_policy_stays_mode_consistent(env_name, xla_run_options):
    out = _run(env_name, "agentmixer", xla_run_options, seeds=256)
    consistency = np.asarray(out.metrics["mode_consistency"])[:, -10:].mean()
    assert consistency >= 0.9, consistency


@pytest.mark.slow
def test_joint_form_reaches_the_penalty_optimum(xla_run_options):
    """pm_form=joint (the preset of plain agentmixer on the matrix games): both penalty optima pay 10 and
    miscoordinating between them pays -100; at least 90% of seeds must play an optimum greedily."""
    out = _run("penalty", "agentmixer", xla_run_options)
    assert np.mean(np.asarray(out.eval["optimal"])) >= 0.9
