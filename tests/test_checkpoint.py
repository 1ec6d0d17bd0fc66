"""Checkpoints: experiments.train saves every seed's parameters; load_run rebuilds the run and re-evaluates it."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from agentmixer_jax.checkpoint import config_from_dict, load_run
from agentmixer_jax.config import TrainConfig
from experiments import train as cli

SMALL = ["--seeds", "4", "--config.total-env-steps", "256", "--config.num-envs", "16", "--config.num-steps", "4",
         "--no-progress"]


@pytest.mark.slow  # make test's 15-minute budget (2026-12-04); the CLI's bitwise resume (test_cli.py) stays fast
def test_saved_run_restores_and_repeats_its_evaluation(tmp_path):
    out = tmp_path / "run"
    summary = cli.main(["--env", "bridge", "--algo", "mappo", "--out", str(out), "--config.eval-episodes", "16",
                        *SMALL])
    run = load_run(out)
    assert run.config == config_from_dict(summary["config"]) and run.config.eval_episodes == 16
    assert run.summary["seed"] == 0 and run.num_seeds == 4

    # the restored tree has the structure and shapes of a fresh init, with a leading seed axis
    target = jax.eval_shape(jax.vmap(run.train.algo.init), run.seed_keys())
    assert jax.tree.structure(run.params) == jax.tree.structure(target)
    for got, want in zip(jax.tree.leaves(run.params), jax.tree.leaves(target)):
        assert got.shape == want.shape and got.dtype == want.dtype
    # the seeds were saved as four different policies, not one broadcast
    first = jax.tree.leaves(run.params)[0]
    assert not np.allclose(first[0], first[1])

    # the default evaluation repeats the one that ended training, seed by seed
    again = run.evaluate()
    np.testing.assert_allclose(again["return"], summary["eval"]["return_per_seed"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(again["success"], summary["eval"]["success_rate_per_seed"])

    more = run.evaluate(eval_episodes=32)
    assert more["success"].shape == (4,) and np.all((more["success"] >= 0) & (more["success"] <= 1))
    assert jax.tree.map(np.shape, run.seed_params(2)) == jax.tree.map(lambda x: x.shape[1:], target)
    with pytest.raises(IndexError, match="4 seeds"):
        run.seed_params(4)

    # playback: greedy actions are a function of the agents' positions (feed-forward actors that see
    # their own position), sampled ones are not (a barely trained policy is far from deterministic)
    for sample in (False, True):
        t = run.rollout(1, num_steps=64, num_envs=16, sample=sample, key=jax.random.PRNGKey(3))
        assert t["state"].shape[:2] == (64, 16) and t["action"].shape == (64, 16, 2)
        assert t["reward"].shape == (64, 16, 2) and set(t["info"]) >= {"success", "jams", "episode_done"}
        assert np.all((t["action"] >= 0) & (t["action"] < 5)) and np.all(t["done"] == t["info"]["episode_done"])
        seen, differs = {}, False
        positions = t["state"][..., :-1]  # the state without its time fraction, which no agent observes
        for s_, a in zip(positions.reshape(-1, positions.shape[-1]), t["action"].reshape(-1, 2)):
            prev = seen.setdefault(s_.tobytes(), a)
            differs |= bool(np.any(prev != a))
        assert differs == sample
    run.rollout(2, num_steps=64, num_envs=16, sample=True)
    assert run._player(64, 16, True)._cache_size() == 1  # one compile serves every seed


def test_no_checkpoint_and_missing_runs_fail_clearly(tmp_path):
    out = tmp_path / "run"
    cli.main(["--env", "climbing", "--algo", "mappo", "--out", str(out), "--no-checkpoint", *SMALL])
    assert (out / "summary.json").exists() and not (out / "params").exists()
    with pytest.raises(FileNotFoundError, match="--no-checkpoint"):
        load_run(out)
    with pytest.raises(FileNotFoundError, match="--out folder"):
        load_run(tmp_path / "nowhere")


def test_config_round_trips_through_json_and_rejects_unknown_fields():
    cfg = TrainConfig(hidden_sizes=(32, 16), recurrent=True, num_minibatches=1)
    assert config_from_dict(json.loads(json.dumps(dataclasses.asdict(cfg)))) == cfg
    with pytest.raises(ValueError, match="hidden_size"):
        config_from_dict({**dataclasses.asdict(cfg), "hidden_size": 3})
