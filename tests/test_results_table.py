"""experiments/results_table.py on fake run folders whose per-seed values are known."""

import json

import numpy as np
import pytest

from experiments import results_table as rt
from tests.test_plot_curves import make_run


def _fake_run(path, greedy, sampled=None, sps=1234.0):
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
    half = 1.96 * np.std(greedy, ddof=1) / np.sqrt(3)
    assert a["greedy return"] == f"{-1.0:.3f} ± {half:.3f}"
    assert a["greedy captured"].startswith("0.500 ± ")
    assert a["sampled return"] == f"{0.75:.3f} ± {1.96 * np.std([0.5, 1.0], ddof=1) / np.sqrt(2):.3f}"
    assert b["sampled return"] == "n/a" and b["greedy reward_per_step"] == "n/a"
    assert a["greedy reward_per_step"] == f"0.200 ± {1.96 * np.std([0.1, 0.3], ddof=1) / np.sqrt(2):.3f}"
    assert b["greedy return"] == "2.000 ± 0.000"
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
    with pytest.raises(ValueError, match="no eval metric.*it has: captured, return"):
        rt.main([str(run), "--metrics", "won"])
