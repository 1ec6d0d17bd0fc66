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
    # the authors' metric, team reward per step (EpisodeStats): the return itself for one-step games
    assert ev["reward_per_step_per_seed"] == ev["return_per_seed"]
    assert summary["eval"] == ev
    assert (out / "metrics.npz").exists()
    printed = capsys.readouterr().out
    assert "seeds at the optimum" in printed and "reward_per_step" in printed


def test_unknown_env_lists_known_ones(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["--env", "climbng", *SMALL])
    assert err.value.code == 2
    assert "climbing" in capsys.readouterr().err


def test_minibatches_that_do_not_divide_the_batch(capsys, monkeypatch):
    import agentmixer_jax.trainer as trainer

    monkeypatch.setattr(trainer.Seeds, "compile", lambda *a, **k: pytest.fail("compiled despite a bad config"))
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
    assert cli.parse_env_kw(("a=true", "b=False", "c=TRUE", "d=yes")) == {"a": True, "b": False, "c": True, "d": "yes"}
    summary = cli.main(["--env", "bridge", "--algo", "ail", "--env-kw", "max_steps=7", "--out", str(tmp_path / "b"),
                        "--config.num-steps", "4", *SMALL])
    assert summary["env_kw"] == {"max_steps": 7}
    assert max(summary["eval"]["length_per_seed"]) <= 7  # the time limit reached the env
    assert len(summary["eval"]["expert_success_rate_per_seed"]) == 4  # AIL's expert is reported beside it
    import agentmixer_jax.trainer as trainer

    monkeypatch.setattr(trainer.Seeds, "compile", lambda *a, **k: pytest.fail("compiled despite a bad env kwarg"))
    for bad in ("no_such_arg=1", "obsk"):
        with pytest.raises(SystemExit) as err:
            cli.main(["--env", "bridge", "--env-kw", bad, *SMALL])
        assert err.value.code == 2
        assert ("no_such_arg" if "=" in bad else "KEY=VALUE") in capsys.readouterr().err


# ----- the defects of the trainer-redesign issue, each with the behaviour it now has ----------------------
TINY_ARGS = ["--env", "climbing", "--algo", "mappo", "--seeds", "2", "--config.total-env-steps", "640",
             "--no-progress"]


def _fail_compile(monkeypatch):
    import agentmixer_jax.trainer as trainer

    monkeypatch.setattr(trainer.Seeds, "compile", lambda *a, **k: pytest.fail("compiled despite bad input"))


def _exit_code(argv) -> int:
    with pytest.raises(SystemExit) as err:
        cli.main(argv)
    return err.value.code


@pytest.mark.parametrize("value, text", [("inf", "hp.lr=inf is out of range: lr must be a finite number > 0"),
                                         ("nan", "hp.lr=nan is out of range"),
                                         ("-1", "hp.lr=-1 is out of range")])
def test_non_finite_or_negative_hyperparameters_are_rejected_with_the_range(value, text, capsys, monkeypatch):
    _fail_compile(monkeypatch)
    assert _exit_code([*TINY_ARGS, "--hp.lr", value]) == 2
    assert text in capsys.readouterr().err.replace("\n", " ")


def test_a_run_whose_seeds_all_diverge_exits_3_and_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    assert _exit_code([*TINY_ARGS, "--hp.lr", "1e30", "--out", str(out)]) == 3
    err = capsys.readouterr().err.replace("\n", " ")
    assert "all 2 seeds have non-finite parameters or losses" in err and "--hp.lr 1e+30" in err
    summary = json.loads((out / "summary.json").read_text())  # strict JSON: json.loads rejects nothing here
    assert summary["status"] == "diverged" and summary["diverged_per_seed"] == [True, True]
    assert "eval" not in summary  # nothing is scored: no return 11, no "100% at the optimum"
    assert not (out / "params").exists()


def test_diverged_seeds_are_null_in_the_summary_and_never_optimal():
    import math
    import re

    import numpy as np
    from rich.console import Console

    evals = {"return": np.array([11.0, 5.0, 11.0]), "optimal": np.array([1.0, 0.0, 1.0])}
    diverged = np.array([True, False, False])
    ev = cli._eval_summary(evals, ("",), diverged)
    assert math.isnan(ev["return_per_seed"][0]) and ev["return_per_seed"][1:] == [5.0, 11.0]
    summary = {"algo": "mappo", "env": "climbing", "seeds": 3, "diverged_per_seed": diverged.tolist(),
               "eval": {k: [None if math.isnan(x) else x for x in v] for k, v in ev.items()}}
    console = Console(record=True, width=200)
    console.print(cli._table(summary))
    text = console.export_text()
    assert "1 diverged" in " ".join(text.split())  # the title wraps to the table's width
    assert re.search(r"return\s*│\s*8\.000", text)  # the mean of the two healthy seeds
    assert re.search(r"seeds at the optimum\s*│\s*0\.333", text)  # 1 of 3: the diverged seed is not optimal


def test_reusing_out_is_refused_unless_overwrite_or_resume(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    cli.main([*TINY_ARGS, "--out", str(out)])
    (out / "playback.json").write_text("{}")  # e.g. from experiments.playback
    _fail_compile(monkeypatch)
    assert _exit_code([*TINY_ARGS, "--out", str(out)]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "already holds a run" in err and "--overwrite" in err and "--resume" in err
    assert _exit_code(["--resume", str(out)]) == 2  # finished runs cannot be resumed
    assert "already finished" in capsys.readouterr().err
    monkeypatch.undo()
    cli.main([*TINY_ARGS, "--out", str(out), "--overwrite", "--seeds", "3"])
    assert not (out / "playback.json").exists()  # the old run's files are gone, not mixed in
    assert json.loads((out / "summary.json").read_text())["seeds"] == 3


def test_an_unwritable_out_fails_before_compiling(tmp_path, capsys, monkeypatch):
    _fail_compile(monkeypatch)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert _exit_code([*TINY_ARGS, "--out", str(blocker / "run")]) == 2
    assert "is not writable" in capsys.readouterr().err


def test_a_failure_after_the_folder_is_made_leaves_a_failed_summary(tmp_path, monkeypatch):
    import agentmixer_jax.trainer as trainer

    def broken(self, state, n):
        raise RuntimeError("simulated device failure")

    monkeypatch.setattr(trainer.Seeds, "run", broken)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated"):
        cli.main([*TINY_ARGS, "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "simulated device failure" in summary["error"]


@pytest.mark.slow  # 15-min budget (issue 15); test_trainer's seed-count test stays fast
def test_seed_i_does_not_depend_on_the_number_of_seeds(tmp_path):
    four = cli.main([*TINY_ARGS, "--seeds", "4", "--out", str(tmp_path / "a")])
    eight = cli.main([*TINY_ARGS, "--seeds", "8", "--out", str(tmp_path / "b")])
    for k, v in four["eval"].items():
        assert eight["eval"][k][:4] == v, k


@pytest.mark.parametrize("argv, text", [
    (["--env-kw", "episode_length=abc"], "episode_length='abc' has the wrong type; episode_length takes int"),
    (["--env-kw", "episode_length=7.5"], "episode_length=7.5 has the wrong type"),
    (["--config.covariance", "full"], "covariance='full' applies to continuous actions only"),
    (["--hp.gamma", "1.5"], "gamma must be a number in [0, 1]"),
    (["--seeds", "0"], "--seeds 0 must be >= 1"),
    (["--eval-every", "-2"], "--eval-every -2 must be >= 0"),
])
def test_bad_input_names_the_field_and_the_fix_before_compiling(argv, text, capsys, monkeypatch):
    _fail_compile(monkeypatch)
    assert _exit_code([*TINY_ARGS, *argv]) == 2
    assert text in capsys.readouterr().err.replace("\n", " ")




def test_help_has_no_config_algo_and_lists_every_registered_algorithm(capsys):
    from agentmixer_jax import registry

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "--config.algo" not in text
    for name in registry.names():
        assert name in text


def test_log_file_progress_is_one_line_per_chunk_to_the_last_update(tmp_path, capsys):
    """In a log (stderr is not a terminal under pytest) every chunk prints a line, the last one at 10/10, and the
    compile is announced before it starts and timed after."""
    cli.main(["--env", "climbing", "--algo", "mappo", "--seeds", "2", "--config.total-env-steps", "640",
              "--config.log-every", "3", "--out", str(tmp_path / "r")])
    lines = [line for line in capsys.readouterr().err.splitlines() if "mappo/climbing: update" in line]
    assert [line.split("update ")[1].split(" ")[0] for line in lines] == ["3/10", "6/10", "9/10", "10/10"]


INTERRUPT_ARGS = ["--env", "climbing", "--algo", "agentmixer", "--seeds", "3", "--config.total-env-steps", "1280",
                  "--config.log-every", "2", "--eval-every", "4", "--checkpoint-every", "0", "--no-progress"]


def _ctrl_c_after_update(update: int, monkeypatch) -> None:
    """A Ctrl-C (SIGINT) right after the progress report of `update`."""
    import signal

    from agentmixer_jax import reporting

    report = reporting.Reporter.__call__

    def ctrl_c(self, done, metrics, diverged=0):
        report(self, done, metrics, diverged)
        if done == update:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(reporting.Reporter, "__call__", ctrl_c)


def test_ctrl_c_saves_and_resume_is_bitwise_identical(tmp_path, monkeypatch):
    """Ctrl-C at update 6 of 20 finishes the chunk, saves, writes an `interrupted` summary and exits 130; --resume
    then ends with the final evaluation, every per-update metric and the evaluation curve of an uninterrupted run."""
    import numpy as np

    whole = cli.main([*INTERRUPT_ARGS, "--out", str(tmp_path / "whole")])
    _ctrl_c_after_update(6, monkeypatch)
    out = tmp_path / "cut"
    assert _exit_code([*INTERRUPT_ARGS, "--out", str(out)]) == 130
    cut = json.loads((out / "summary.json").read_text())
    assert cut["status"] == "interrupted" and cut["updates_done"] == 6
    assert not (out / "params").exists()
    monkeypatch.undo()
    resumed = cli.main(["--resume", str(out), "--no-progress"])
    assert resumed["status"] == "finished" and resumed["resumes"] == 1 and resumed["updates_done"] == 20
    assert resumed["eval"] == whole["eval"]
    for name in ("metrics.npz", "eval_curve.npz"):
        a, b = np.load(tmp_path / "whole" / name), np.load(out / name)
        assert a.files == b.files
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name}:{k}")
    assert np.load(out / "eval_curve.npz")["update"].tolist() == [4, 8, 12, 16, 20]


def test_resume_takes_no_other_settings(tmp_path, capsys):
    assert _exit_code(["--resume", str(tmp_path), "--seeds", "8"]) == 2
    assert "remove --seeds 8" in capsys.readouterr().err
    assert _exit_code(["--resume", str(tmp_path / "nothing")]) == 2
    assert "no summary.json" in capsys.readouterr().err


def test_ctrl_c_in_a_chunk_that_ends_on_a_periodic_checkpoint(tmp_path, monkeypatch):
    """Ctrl-C during the chunk that ends at update 6 with --checkpoint-every 6: the periodic checkpoint is the
    interrupted run's (saving update 6 twice made orbax fail the run)."""
    from agentmixer_jax.run_record import RunFolder

    _ctrl_c_after_update(6, monkeypatch)
    out = tmp_path / "cut"
    argv = list(INTERRUPT_ARGS)
    argv[argv.index("--checkpoint-every") + 1] = "6"
    assert _exit_code([*argv, "--out", str(out)]) == 130
    cut = json.loads((out / "summary.json").read_text())
    assert cut["status"] == "interrupted" and cut["updates_done"] == 6
    assert RunFolder(out).latest_checkpoint() == 6


def test_ctrl_c_while_compiling_stops_before_training_even_with_sigint_ignored(tmp_path, monkeypatch, capsys):
    """A process started with `&` from a script inherits SIGINT ignored; a Ctrl-C (kill -INT) while compiling was
    then lost and the run trained to its end. The message says what happens next (not "after this chunk")."""
    import signal

    from agentmixer_jax.trainer import Seeds

    compile_ = Seeds.compile

    def compile_then_ctrl_c(self, *args, **kwargs):
        compile_(self, *args, **kwargs)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(Seeds, "compile", compile_then_ctrl_c)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        out = tmp_path / "cut"
        assert _exit_code([*INTERRUPT_ARGS, "--out", str(out)]) == 130
    finally:
        signal.signal(signal.SIGINT, previous)
    cut = json.loads((out / "summary.json").read_text())
    assert cut["status"] == "interrupted" and cut["updates_done"] == 0 and "compiling" in cut["error"]
    printed = " ".join(capsys.readouterr().err.split())
    assert "stopping once compiling ends" in printed and "after this chunk" not in printed


def test_a_real_sigint_leaves_a_resumable_run(tmp_path):
    """The same through the operating system: SIGINT to a training process after its first progress line."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "run"
    argv = ["--env", "climbing", "--algo", "mappo", "--seeds", "2", "--config.total-env-steps", "64000",
            "--config.log-every", "1", "--checkpoint-every", "0", "--out", str(out)]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "experiments.train", *argv], cwd=root, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, env={**os.environ, "COLUMNS": "200"})
    for line in proc.stderr:
        if "mappo/climbing: update" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=300) == 130, rest
    assert "python -m experiments.train --resume" in rest
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 0 < summary["updates_done"] < 1000
    from agentmixer_jax.run_record import RunFolder

    assert RunFolder(out).latest_checkpoint() == summary["updates_done"]


def test_the_summary_table_says_when_greedy_play_is_centralised():
    """MAT and AR-MAPPO act on other agents' observations / actions: the CLI's table and the evaluation plots must
    not call their greedy play decentralised."""
    from rich.console import Console

    from experiments.plot_curves import eval_kind

    def title(algo):
        summary = {"algo": algo, "env": "climbing", "seeds": 1, "diverged_per_seed": [False],
                   "eval": {"return_per_seed": [1.0]}, "config": {}}
        console = Console(record=True, width=300)
        console.print(cli._table(summary))
        return " ".join(console.export_text().split())

    assert "CENTRALISED greedy evaluation" in title("ar_mappo") and "CENTRALISED" in title("mat")
    assert "decentralised greedy evaluation" in title("mappo") and "CENTRALISED" not in title("mat_dec")
    assert eval_kind(["mappo", "happo"]) == "decentralised greedy evaluation"
    assert "except ar_mappo, mat: centralised execution" in eval_kind(["mat", "mappo", "ar_mappo", "old_algo"])
