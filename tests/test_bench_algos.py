"""experiments/bench_algos.py: every algorithm timed at the same batch, interleaved, with ratios to the first."""

import pytest

import experiments.bench_algos as bench

pytestmark = pytest.mark.slow  # two compiles and timed runs: a benchmark tool, checked under -m slow


def test_rows_share_the_batch_and_give_ratios_to_the_first_algorithm(tmp_path, monkeypatch):
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Benchmarks\n")
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    rows = bench.main(["--tasks", "climbing", "--algos", "mappo", "happo", "--seeds", "2", "--updates", "2",
                       "--repeats", "2", "--record"])
    assert [r["algo"] for r in rows] == ["mappo", "happo"]
    assert rows[0]["ratio"] == 1.0 and rows[1]["ratio"] > 0
    assert all(len(r["times"]) == 2 and r["sps"] > 0 for r in rows)
    assert {(r["num_envs"], r["num_steps"], r["updates"]) for r in rows} == {(64, 1, 2)}
    text = md.read_text()
    assert bench.TABLE_SECTION in text and "| climbing | happo | 2 x 64 x 1 x 2 |" in text
