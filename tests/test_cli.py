"""The training CLI: summary.json contents and clear errors before compilation."""

import json

import pytest

from experiments import train as cli

SMALL = ["--seeds", "4", "--config.total-env-steps", "256", "--config.num-envs", "16", "--no-progress"]


def test_cli_writes_summary(tmp_path, capsys):
    out = tmp_path / "run"
    summary = cli.main(["--env", "climbing", "--algo", "mappo", "--out", str(out), *SMALL])
    written = json.loads((out / "summary.json").read_text())
    assert written["env"] == "climbing" and written["algo"] == "mappo" and written["seeds"] == 4
    assert written["env_steps_per_seed"] == 256
    assert written["steps_per_second"] > 0 and written["wall_seconds"] > 0
    ev = written["eval"]
    for key in ("return_per_seed", "ce_epsilon_per_seed", "optimal_per_seed"):
        assert len(ev[key]) == 4, key
    # greedy returns are entries of the climbing matrix, CE epsilons are non-negative
    assert all(r in (11, -30, 0, 7, 6, 5) for r in ev["return_per_seed"])
    assert all(e >= 0 for e in ev["ce_epsilon_per_seed"])
    assert summary["eval"] == ev
    assert (out / "metrics.npz").exists()
    assert "seeds at the optimum" in capsys.readouterr().out


def test_unknown_env_lists_known_ones(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["--env", "climbng", *SMALL])
    assert err.value.code == 2
    assert "climbing" in capsys.readouterr().err


def test_minibatches_that_do_not_divide_the_batch(capsys, monkeypatch):
    import agentmixer_jax.runner as runner

    monkeypatch.setattr(runner, "make_train", lambda *a, **k: pytest.fail("compiled despite a bad config"))
    with pytest.raises(SystemExit) as err:
        cli.main(["--env", "climbing", "--config.num-minibatches", "3", *SMALL])
    assert err.value.code == 2
    assert "num_minibatches=3 must divide" in capsys.readouterr().err


def test_bad_hyperparameter_is_rejected(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--env", "climbing", "--hp.gamma", "1.5", *SMALL])
    assert "gamma" in capsys.readouterr().err


def test_env_kw_reaches_the_task_and_bad_ones_fail_before_compiling(tmp_path, capsys, monkeypatch):
    assert cli.parse_env_kw(("obsk=2", "backend=mjx", "penalty=-1.5", "rows=(1, 3)")) == {
        "obsk": 2, "backend": "mjx", "penalty": -1.5, "rows": (1, 3)}
    summary = cli.main(["--env", "bridge", "--algo", "ail", "--env-kw", "max_steps=7", "--out", str(tmp_path / "b"),
                        "--config.num-steps", "4", *SMALL])
    assert summary["env_kw"] == {"max_steps": 7}
    assert max(summary["eval"]["length_per_seed"]) <= 7  # the time limit reached the env
    assert len(summary["eval"]["expert_success_rate_per_seed"]) == 4  # AIL's expert is reported beside it
    import agentmixer_jax.runner as runner

    monkeypatch.setattr(runner, "make_train", lambda *a, **k: pytest.fail("compiled despite a bad env kwarg"))
    for bad in ("no_such_arg=1", "obsk"):
        with pytest.raises(SystemExit) as err:
            cli.main(["--env", "bridge", "--env-kw", bad, *SMALL])
        assert err.value.code == 2
        assert ("no_such_arg" if "=" in bad else "KEY=VALUE") in capsys.readouterr().err
