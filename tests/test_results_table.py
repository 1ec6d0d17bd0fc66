"""experiments/results_table.py on fake run folders whose per-seed values are known."""

import json

import numpy as np
import pytest

from agentmixer_jax import stats
from agentmixer_jax.run_record import RunFolder
from experiments import results_table as rt
from tests.test_plot_curves import make_run, write_run


def _fake_run(path, greedy, sampled=None, sps=1234.0):
    """A schema-version-1 run folder (older runs: no schema_version, no status) with known values."""
    # training return: seed s returns s + u at update u; 20 updates, so the last 10% is updates 18 and 19
    u = np.arange(20, dtype=np.float64)
    curves = {"episode_return": np.stack([u, u + 1, u + 2]), "episodes": np.ones((3, 20))}
    run = make_run(path, "predator_prey_p1", "mappo", curves)
    summary = json.loads((run / "summary.json").read_text())
    summary["eval"] = {"return_per_seed": greedy, "captured_per_seed": [0.0, 0.5, 1.0]}
    summary["steps_per_second"] = sps
    (run / "summary.json").write_text(json.dumps(summary))
    if sampled is not None:
        (run / "playback.json").write_text(json.dumps({"greedy": {"return": greedy, "reward_per_step": [0.1, 0.3]},
                                                       "sampled": {"return": sampled}}))
    return run


def test_row_values(tmp_path, capsys):
    greedy = [-3.0, -1.0, 1.0]
    sampled = [0.5, 1.0, float("nan")]  # a seed without a finished episode is left out
    _fake_run(tmp_path / "a", greedy, sampled)
    _fake_run(tmp_path / "b", [2.0, 2.0, 2.0])  # no playback.json
    rows = rt.main([str(tmp_path), "--playback-greedy", "reward_per_step"])
    a, b = rows
    assert a["greedy return"] == stats.interval(greedy, "mean").format() and a["greedy return"].startswith("-1.000 [")
    assert a["greedy return IQM"].startswith("-1.000 [")  # 3 seeds: the 25% trim cuts none
    assert a["greedy captured"].startswith("0.500 [")
    # two seeds: a bootstrap mean is 0.5, 0.75 or 1.0 -> the 2.5% / 97.5% percentiles are the two seeds
    assert a["sampled return"] == "0.750 [0.500, 1.000]"
    assert b["sampled return"] == "n/a" and b["greedy reward_per_step"] == "n/a"
    assert a["greedy reward_per_step"] == "0.200 [0.100, 0.300]"
    assert b["greedy return"] == "2.000 [2.000, 2.000]"
    # seed means of updates 18, 19: 18.5, 19.5, 20.5 -> 19.5
    assert a["training return"].startswith("19.500 [")
    assert a["env steps/s"] == "1,234"
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("| run | env | algo | seeds |")
    assert "| a | predator_prey_p1 | mappo |" in out and "| b | predator_prey_p1 | mappo |" in out


def test_chosen_metrics_and_unknown_metric(tmp_path):
    run = _fake_run(tmp_path / "a", [0.0, 1.0, 2.0])
    (row,) = rt.main([str(run), "--metrics", "captured"])
    assert "greedy captured" in row and "greedy return" not in row
    with pytest.raises(ValueError, match=r"no eval metric \['won'\].*they have: captured, return"):
        rt.main([str(run), "--metrics", "won"])


def test_schema_v1_summary_with_nan_seeds(tmp_path):
    """Older (v1) summaries wrote NaN for a non-finite seed: counted and shown, not silently dropped."""
    run = _fake_run(tmp_path / "a", [1.0, float("nan"), 3.0])
    summary = json.loads((run / "summary.json").read_text())
    assert "schema_version" not in summary and "status" not in summary and "NaN" in (run / "summary.json").read_text()
    (row,) = rt.main([str(run)])
    assert "status" not in row  # a v1 summary is a finished run
    assert row["seeds"] == "3 (1 non-finite)"
    assert row["greedy return"] == "2.000 [1.000, 3.000]"


# ----- defect 1: folders without a summary, unfinished runs ------------------------------------------------------

def _run_v2(path, env="climbing", eval=None, seeds=3, **kw):
    u = np.arange(20, dtype=np.float64)
    curves = {"episode_return": np.stack([u + s for s in range(seeds)]), "episodes": np.ones((seeds, 20))}
    if eval is None:
        eval = {"return_per_seed": [1.0] * seeds, "optimal_per_seed": [1.0] * seeds}
    return write_run(path, env, "mappo", curves, eval=eval, **kw)


def test_skips_folders_without_summary_running_and_failed_runs(tmp_path, capsys):
    root = tmp_path / "runs"
    _run_v2(root / "good")
    (root / "empty").mkdir()
    running = root / "running"
    running.mkdir()
    RunFolder(running).write_summary({"env": "climbing", "algo": "mappo", "seeds": 3, "status": "running",
                                      "updates_done": 4, "num_updates": 20})
    _run_v2(root / "failed", status="failed", error="RuntimeError: out of memory")
    lone_empty = tmp_path / "lone_empty"
    lone_empty.mkdir()

    rows = rt.main([str(root), str(lone_empty)])
    assert [r["run"] for r in rows] == ["good"]
    assert "status" not in rows[0]  # every shown run finished: no status column
    err = capsys.readouterr().err
    assert f"skipping {root / 'empty'}: no summary.json" in err
    assert f"skipping {lone_empty}: no summary.json" in err
    assert f"skipping {running}: status running (4/20 updates" in err
    assert f"skipping {root / 'failed'}: status failed (RuntimeError: out of memory)" in err

    with pytest.raises(ValueError, match="no run to show"):
        rt.main([str(lone_empty)])
    with pytest.raises(SystemExit) as exit_:
        rt.cli([str(running)])
    assert exit_.value.code == 2 and "no run to show" in capsys.readouterr().err


def test_interrupted_and_diverged_runs_get_a_status_column(tmp_path):
    root = tmp_path / "runs"
    _run_v2(root / "a_done")
    # interrupted and diverged runs have no final evaluation in summary.json
    _run_v2(root / "b_interrupted", eval={}, status="interrupted", updates_done=12)
    _run_v2(root / "c_diverged", eval={}, status="diverged", updates_done=5, diverged=[True] * 3,
            error="every seed diverged by update 5")
    done, interrupted, diverged = rt.main([str(root)])
    assert done["status"] == "finished"
    assert interrupted["status"] == "interrupted (12/20 updates)"
    assert interrupted["env steps / seed"] == f"{12 * 32:,}"
    assert interrupted["greedy return"] == "n/a" and interrupted["training return"] != "n/a"
    assert diverged["status"] == "diverged (5/20 updates)" and diverged["seeds"] == "3 (3 diverged)"
    assert diverged["training return"] == "n/a"  # no healthy seed


# ----- defect 2: runs of different envs ------------------------------------------------------------------------

def test_runs_of_different_envs_show_the_union_of_metrics(tmp_path, capsys):
    _run_v2(tmp_path / "climb", eval={"return_per_seed": [1.0, 2.0, 3.0], "optimal_per_seed": [1.0, 0.0, 1.0]})
    _run_v2(tmp_path / "bridge", env="bridge",
            eval={"return_per_seed": [4.0, 4.0, 4.0], "success_rate_per_seed": [0.5, 1.0, 1.0],
                  "length_per_seed": [9.0, 9.0, 9.0]})
    climb, bridge = rt.main([str(tmp_path / "climb"), str(tmp_path / "bridge")])
    columns = [c for c in climb if c.startswith("greedy ")]
    assert columns == ["greedy return", "greedy return IQM", "greedy optimal", "greedy success_rate", "greedy length"]
    assert list(bridge) == list(climb)
    assert climb["greedy success_rate"] == "n/a" and climb["greedy length"] == "n/a"
    assert bridge["greedy optimal"] == "n/a" and bridge["greedy length"] == "9.000 [9.000, 9.000]"
    assert climb["greedy optimal"].startswith("0.667 [")
    header = capsys.readouterr().out.splitlines()[0]
    assert "greedy optimal | greedy success_rate | greedy length" in header

    # chosen metrics: a run lacking one shows n/a; a metric no run has is an error listing the known ones
    climb, bridge = rt.main([str(tmp_path / "climb"), str(tmp_path / "bridge"), "--metrics", "success_rate"])
    assert climb["greedy success_rate"] == "n/a" and bridge["greedy success_rate"].startswith("0.833 [")
    with pytest.raises(ValueError, match=r"no eval metric \['won'\].*they have: length, optimal, return, success_rate"):
        rt.main([str(tmp_path / "climb"), str(tmp_path / "bridge"), "--metrics", "return", "won"])


# ----- defect 3: diverged and non-finite seeds ----------------------------------------------------------------

def test_diverged_seeds_are_counted_and_never_succeed(tmp_path):
    ev = {"return_per_seed": [1.0, None, 3.0, 5.0],
          "length_per_seed": [1.0, None, 1.0, 1.0],  # not a success metric: healthy seeds only
          "ce_epsilon_per_seed": [0.0, None, 1.0, 1.0],  # a cost whose best value is 0: healthy seeds only
          "optimal_per_seed": [1.0, None, 1.0, 1.0],
          "win_rate_per_seed": [0.5, None, 1.0, 0.75],  # a success metric by name, with fractional values
          "captured_per_seed": [1.0, None, 0.0, 1.0]}  # predator-prey's success metric
    u = np.arange(20, dtype=np.float64)
    ret = np.stack([u, np.full(20, np.nan), u + 2, u + 4])  # the diverged seed's curve went NaN
    write_run(tmp_path / "a", "climbing", "mappo", {"episode_return": ret, "episodes": np.ones((4, 20))},
              eval=ev, diverged=[False, True, False, False])
    raw = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert raw["eval"]["return_per_seed"][1] is None  # strict JSON: null, never a number
    (row,) = rt.main([str(tmp_path / "a")])
    assert row["seeds"] == "4 (1 diverged)"
    # other metrics: the healthy seeds only
    assert row["greedy return"] == rt.mean_ci([1.0, 3.0, 5.0]) and row["greedy return"].startswith("3.000 [")
    assert row["greedy length"] == "1.000 [1.000, 1.000]"
    assert row["greedy ce_epsilon"] == rt.mean_ci([0.0, 1.0, 1.0])
    # success metrics: the fraction over all 4 seeds, the diverged one counted as 0
    assert row["greedy optimal"] == rt.mean_ci([1.0, 0.0, 1.0, 1.0]) and row["greedy optimal"].startswith("0.750 [")
    assert row["greedy win_rate"].startswith(f"{(0.5 + 1.0 + 0.75) / 4:.3f} [")
    assert row["greedy captured"].startswith("0.500 [")
    # training return: seeds 0, 2, 3 over updates 18, 19 -> 18.5, 20.5, 22.5
    assert row["training return"].startswith("20.500 [")


def test_non_finite_seeds_not_marked_diverged_are_counted(tmp_path):
    ev = {"return_per_seed": [1.0, None, 3.0, 5.0, None], "optimal_per_seed": [1.0, None, 1.0, 1.0, None]}
    _run_v2(tmp_path / "a", eval=ev, seeds=5, diverged=[False, False, False, False, True])
    (row,) = rt.main([str(tmp_path / "a")])
    assert row["seeds"] == "5 (1 diverged, 1 non-finite)"
    assert row["greedy return"].startswith("3.000 [")
    assert row["greedy optimal"].startswith("0.600 [")  # 3 successes of 5 seeds
    _run_v2(tmp_path / "b", eval={"return_per_seed": [1.0, None, None]})
    (row,) = rt.main([str(tmp_path / "b")])
    assert row["seeds"] == "3 (2 non-finite)" and row["greedy return"] == "1.000"


def test_playback_with_null_seeds(tmp_path):
    run = _run_v2(tmp_path / "a")
    RunFolder(run).playback_path.write_text(json.dumps(
        {"diverged_per_seed": [False, True, False], "greedy": {"return": [1.0, None, 3.0]},
         "sampled": {"return": [0.0, None, 2.0]}}))
    (row,) = rt.main([str(run)])
    assert row["sampled return"] == rt.mean_ci([0.0, 2.0]) and row["sampled return"] == "1.000 [0.000, 2.000]"


def test_compare_prints_probability_of_improvement(tmp_path, capsys):
    _run_v2(tmp_path / "good", eval={"return_per_seed": [3.0, 4.0, 5.0]})
    _run_v2(tmp_path / "bad", eval={"return_per_seed": [0.0, 1.0, 2.0]})
    rt.main([str(tmp_path / "good"), str(tmp_path / "bad"), "--compare", "good", "bad"])
    assert "P(good > bad) on greedy return: 1.000 [" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no such run"):
        rt.main([str(tmp_path / "good"), "--compare", "good", "bad"])


def test_centrally_executed_algorithms_are_marked_in_both_tables(tmp_path, capsys):
    """MAT and AR-MAPPO act on the other agents' observations / actions at play time: every table says so."""
    from experiments import matrix_table

    u = np.arange(20, dtype=np.float64)
    curves = {"episode_return": np.stack([u, u]), "episodes": np.ones((2, 20))}
    ev = {"return_per_seed": [1.0, 2.0], "optimal_per_seed": [1.0, 0.0], "ce_epsilon_per_seed": [0.0, 0.0]}
    for algo in ("ar_mappo", "mat", "mappo"):
        write_run(tmp_path / algo, "climbing", algo, curves, eval=ev, wall_seconds=1.0)
    rows = rt.main([str(tmp_path / a) for a in ("ar_mappo", "mat", "mappo")])
    assert [r["algo"] for r in rows] == ["ar_mappo (centralised execution)", "mat (centralised execution)", "mappo"]
    capsys.readouterr()
    matrix_table.main([str(tmp_path / a) for a in ("ar_mappo", "mappo")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("| climbing | ar_mappo (centralised execution) |")
    assert lines[3].startswith("| climbing | mappo |")


def test_matrix_table_skips_runs_of_other_tasks(tmp_path, capsys):
    from experiments import matrix_table

    u = np.arange(20, dtype=np.float64)
    curves = {"episode_return": np.stack([u, u]), "episodes": np.ones((2, 20))}
    write_run(tmp_path / "m", "climbing", "mappo", curves, wall_seconds=1.0,
              eval={"return_per_seed": [1.0, 2.0], "optimal_per_seed": [1.0, 0.0], "ce_epsilon_per_seed": [0.0, 0.0]})
    write_run(tmp_path / "pp", "predator_prey_p1", "mappo", curves, wall_seconds=1.0,
              eval={"return_per_seed": [1.0, 2.0]})
    matrix_table.main([str(tmp_path / "m"), str(tmp_path / "pp")])
    out = capsys.readouterr()
    assert [line.split(" | ")[0] for line in out.out.splitlines()[2:]] == ["| climbing"]
    assert "predator_prey_p1 is not a matrix game" in out.err


def test_pool_shows_runs_of_different_base_seeds_as_one_row(tmp_path, capsys):
    """--pool: two runs of one command with --seed 0 and --seed 1 are one row over their pooled seeds; a run of
    another setting stays its own row; the same base seed twice is refused."""
    u = np.arange(20, dtype=np.float64)

    def run(name, seed, returns, hparams, diverged=None, sps=1000.0):
        curves = {"episode_return": np.stack([u + r for r in returns]), "episodes": np.ones((3, 20))}
        ev = {"return_per_seed": [None if d else r for r, d in zip(returns, diverged or [False] * 3)],
              "captured_per_seed": [None if d else 1.0 for d in (diverged or [False] * 3)]}
        return write_run(tmp_path / name, "predator_prey_p1", "mappo", curves, eval=ev, diverged=diverged, seed=seed,
                         hparams=hparams, steps_per_second=sps)

    run("a", 0, [1.0, 2.0, 3.0], {"lr": 5e-4})
    # b's summary names a field that a's (an older run's) lacks, at its default: still the same command
    run("b", 1, [4.0, 5.0, 6.0], {"lr": 5e-4, "target_kl": 0.0}, diverged=[False, True, False], sps=3000.0)
    run("c", 0, [0.0, 0.0, 0.0], {"lr": 1e-3})
    assert [r["run"] for r in rt.main([str(tmp_path)])] == ["a", "b", "c"]
    pooled, other = rt.main([str(tmp_path), "--pool"])
    assert pooled["run"] == "a +1" and other["run"] == "c"
    assert pooled["seeds"] == "6 (1 diverged)"
    assert pooled["greedy return"] == rt.mean_ci([1.0, 2.0, 3.0, 4.0, 6.0])
    assert pooled["greedy captured"].startswith(f"{5 / 6:.3f} [")  # the diverged seed counts as a failure
    # training return: each healthy seed's mean of updates 18, 19 (18.5 + r), pooled over both runs
    assert pooled["training return"].startswith(f"{np.mean([19.5, 20.5, 21.5, 22.5, 24.5]):.3f} [")
    assert pooled["env steps/s"] == "2,000"
    rt.main([str(tmp_path), "--pool", "--compare", "a", "c"])
    assert "(5 vs 3 seeds)" in capsys.readouterr().out  # a's row: its own seeds and b's healthy ones
    run("d", 1, [7.0, 7.0, 7.0], {"lr": 5e-4})
    with pytest.raises(ValueError, match="same base seed 1"):
        rt.main([str(tmp_path), "--pool"])
