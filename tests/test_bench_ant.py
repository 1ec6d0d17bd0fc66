"""`make bench-ant` (experiments/bench_ant.py): flags checked before compiling, the JSON figures, the
BENCHMARKS.md row. The real (tiny) end-to-end run compiles three Brax programs (~2 min on 2 cores): slow."""

import json

import pytest

from experiments import bench_ant

TINY = ["--num-envs", "4", "--num-steps", "5", "--updates", "1", "--update-epochs", "1", "--num-minibatches", "1",
        "--env-reps", "1"]

FAKE = {"env_sps": 1000.0, "wrapper_sps": 960.0, "train_sps": 650.0, "train_run_s": 1.0, "env_compile_s": 1.0,
        "wrapper_compile_s": 2.0, "compile_s": 3.0, "env_sps_runs": [1000.0], "wrapper_sps_runs": [960.0]}


@pytest.fixture
def no_compile(monkeypatch):
    """Fail the test if anything reaches the measurement (compilation) stage."""
    monkeypatch.setattr(bench_ant, "measure", lambda *a, **k: pytest.fail("compiled despite bad flags"))


@pytest.mark.parametrize("flags, message", [
    (["--num-minibatches", "3"], "--num-minibatches 3 must divide the batch num_envs * num_steps = 20"),
    (["--updates", "2", "--total-env-steps", "100"], "either --updates or --total-env-steps"),
    (["--total-env-steps", "10"], "less than one update (num_envs * num_steps = 20)"),
    (["--updates", "0"], "--updates 0 must be >= 1"),
    (["--env", "climbing"], "not a multi-agent Brax task"),
    (["--obsk", "-1"], "--obsk -1 must be >= 0"),
])
def test_bad_flags_fail_before_compiling(flags, message, no_compile, capsys):
    argv = ["--num-envs", "4", "--num-steps", "5", "--num-minibatches", "1", *flags]
    with pytest.raises(SystemExit) as err:
        bench_ant.main(argv)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def test_defaults_are_sized_for_the_device():
    (cpu, hp), (gpu, _) = (bench_ant._plan(bench_ant.Args(), accelerator=a) for a in (False, True))
    assert (cpu.num_envs, cpu.num_updates) == bench_ant.CPU_DEFAULTS
    assert (gpu.num_envs, gpu.num_updates) == bench_ant.ACCEL_DEFAULTS
    assert gpu.num_envs >= 1000 > cpu.num_envs >= 100
    # the settings a user trains Ant with (the preset), and --total-env-steps rounds down to whole updates
    from experiments.presets import preset

    base, base_hp = preset("ant_4x2", "agentmixer")
    assert (cpu.num_steps, cpu.update_epochs, cpu.num_minibatches) == (base.num_steps, base.update_epochs,
                                                                        base.num_minibatches) == (100, 5, 4)
    assert cpu.algo == "agentmixer" and hp == base_hp and cpu.pm_channels == base.pm_channels
    cfg, _ = bench_ant._plan(bench_ant.Args(num_envs=8, total_env_steps=8 * 100 * 3 + 5), accelerator=False)
    assert cfg.num_updates == 3


def test_json_and_record_from_faked_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_ant, "measure", lambda *a, **k: dict(FAKE))
    bench = tmp_path / "BENCHMARKS.md"
    bench.write_text("# Benchmarks (speed)\n\n## Test suite\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    out = tmp_path / "b.json"
    argv = [*TINY, "--json", str(out), "--record", "--record-to", str(bench)]
    res = bench_ant.main(argv)
    res = bench_ant.main(argv)  # the second row goes under the first one, in the same table
    data = json.loads(out.read_text())
    for k in ("train_sps", "env_sps", "ratio", "compile_s", "peak_mem_mb", "device", "num_envs"):
        assert k in data, k
    assert data["ratio"] == pytest.approx(0.65) and data["wrapper_ratio"] == pytest.approx(0.96)
    assert data["num_envs"] == 4 and data["peak_mem_mb"] > 0 and res["ratio"] == data["ratio"]
    text = bench.read_text()
    assert text.count(bench_ant.SECTION) == 1 and text.startswith("# Benchmarks (speed)\n\n## Test suite")
    at = [i for i, ln in enumerate(text.splitlines()) if ln.startswith("| ") and "experiments.bench_ant" in ln]
    assert len(at) == 2 and at[1] == at[0] + 1
    rows = [text.splitlines()[i] for i in at]
    # the command reproduces the figures: --json and --record are left out
    assert "--num-envs 4" in rows[0] and "--json" not in rows[0] and "--record" not in rows[0]
    assert "| 650 | 1,000 | 0.65 | 960 | 0.96 | 3.0 |" in rows[0]
    printed = capsys.readouterr().out
    assert "below >= 0.6" not in printed and "meets >= 0.6" in printed


@pytest.mark.slow
def test_tiny_real_run_writes_consistent_json(tmp_path):
    out = tmp_path / "b.json"
    bench_ant.main([*TINY, "--json", str(out)])
    data = json.loads(out.read_text())
    assert data["train_sps"] > 0 and data["env_sps"] > 0 and data["wrapper_sps"] > 0
    assert data["ratio"] == pytest.approx(data["train_sps"] / data["env_sps"])
    assert data["wrapper_ratio"] == pytest.approx(data["wrapper_sps"] / data["env_sps"])
    assert data["compile_s"] > 0 and data["peak_mem_mb"] > 0 and data["num_envs"] == 4
