"""experiments/bench_envs.py: step counting, clear errors before compiling, BENCHMARKS.md rows, JaxMARL."""

import math
import time

import pytest

import envs
from experiments import bench_envs


def test_throughput_counts_every_env_step_and_is_positive():
    row = bench_envs.throughput("bridge", num_envs=8, steps=30, reps=2)
    assert row["env_steps_per_call"] == 8 * 30
    assert row["num_agents"] == 2 and len(row["wall_s"]) == 2
    assert row["env_steps_per_s"] > 0 and math.isfinite(row["env_steps_per_s"])
    assert row["agent_steps_per_s"] == pytest.approx(2 * row["env_steps_per_s"])
    assert row["checksum_finite"]
    # random walks over 30 steps end some bridge episodes: auto-reset ran (and episodes <= steps taken)
    assert 0 <= row["episodes_per_call"] <= 8 * 30


def test_continuous_actions_are_sampled_in_the_box():
    import jax
    import jax.numpy as jnp

    mask = jnp.ones((3, 4), bool)
    a = bench_envs.sample_valid_actions(jax.random.PRNGKey(0), mask, discrete=False)
    assert a.shape == (3, 4) and bool(jnp.all((a >= -1) & (a <= 1)))
    masked = jnp.array([[False, True, False], [True, False, False]])
    for k in range(20):
        d = bench_envs.sample_valid_actions(jax.random.PRNGKey(k), masked, discrete=True)
        assert d.tolist() == [1, 0]


def test_unknown_task_fails_at_once_with_the_known_names():
    t0 = time.perf_counter()
    with pytest.raises(SystemExit, match="unknown env 'protoss_5x5'.*protoss_5v5"):
        bench_envs.main(["--tasks", "bridge", "protoss_5x5", "--no-jaxmarl"])
    with pytest.raises(SystemExit, match="num-envs must be >= 1"):
        bench_envs.main(["--tasks", "bridge", "--num-envs", "0"])
    assert time.perf_counter() - t0 < 5  # nothing was compiled


def test_jaxmarl_map_pairs_equal_smacv2_teams_only():
    assert bench_envs.jaxmarl_map(envs.make("zerg_10v10")) == "smacv2_10_units"
    assert bench_envs.jaxmarl_map(envs.make("protoss_5v5")) == "smacv2_5_units"
    assert bench_envs.jaxmarl_map(envs.make("protoss_10v11")) is None
    assert bench_envs.jaxmarl_map(envs.make("bridge")) is None


def _row(task, impl, agents, sps, jaxmarl_map=None):
    return {"task": task, "impl": impl, "num_agents": agents, "num_envs": 1024, "env_steps_per_s": sps,
            "episodes_per_call": 7, "compile_s": 1.0, "jaxmarl_map": jaxmarl_map}


def test_ratios_and_record_go_to_their_sections(tmp_path):
    rows = [
        _row("bridge", "ours", 2, 1e6),
        _row("protoss_5v5", "ours", 5, 3000.0, "smacv2_5_units"),
        _row("jaxmarl:smacv2_5_units", "jaxmarl", 5, 2000.0, "smacv2_5_units"),
    ]
    bench_envs.add_ratios(rows)
    assert rows[1]["vs_jaxmarl"] == pytest.approx(1.5) and rows[0]["vs_jaxmarl"] is None
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n## Other\n\n| a |\n|---|\n| 1 |\n\n"
                    f"{bench_envs.ENV_SECTION} (issue 3)\n\nIntro.\n\n| task |\n|---|\n\nAfter the table.\n")
    args = bench_envs.Args(tasks=("bridge", "protoss_5v5"))
    bench_envs.record(rows, args, "2-core CPU", path, date="2026-11-24")
    bench_envs.record(rows[:1], args, "2-core CPU", path, date="2026-11-25")
    text = path.read_text()
    env_part = text.split(bench_envs.ENV_SECTION)[1].split("## ")[0]
    smax_part = text.split(bench_envs.SMAX_SECTION)[1]
    assert env_part.count("| bridge |") == 2 and "2026-11-25" in env_part and "| protoss" not in env_part
    assert "| protoss_5v5 | ours (envs.smaxv2) | 5 | 1,024 | 3,000 | 1.50 |" in smax_part
    assert "| smacv2_5_units | JaxMARL SMAX" in smax_part
    assert "--tasks bridge protoss_5v5 --num-envs 1024" in smax_part
    assert "| 1 |" in text.split(bench_envs.ENV_SECTION)[0]  # other sections untouched
    assert text.count(bench_envs.ENV_SECTION) == 1 and text.count(bench_envs.SMAX_SECTION) == 1
    assert env_part.index("| bridge |") < env_part.index("After the table.")


def test_jaxmarl_smax_loop_traces_with_our_shapes():
    """The dict-of-agents glue around JaxMARL's SMAX, traced without compiling (the compile takes ~30 s)."""
    pytest.importorskip("jaxmarl")
    import jax

    reset, rollout, num_agents = bench_envs.jaxmarl_loop("smacv2_10_units", num_envs=3, steps=4)
    key = jax.random.PRNGKey(0)
    carry = jax.eval_shape(reset, key)
    _, (n, eps, chk) = jax.eval_shape(rollout, carry, key)
    assert num_agents == 10 and n.shape == eps.shape == (3,) and chk.shape == ()


@pytest.mark.slow
def test_jaxmarl_smax_runs_beside_ours():
    pytest.importorskip("jaxmarl")
    prog = bench_envs.build_jaxmarl("smacv2_5_units", num_envs=4, steps=5)
    row = bench_envs.time_programs([prog], reps=1)[0]
    assert row["impl"] == "jaxmarl" and row["num_agents"] == 5
    assert row["env_steps_per_call"] == 4 * 5
    assert row["env_steps_per_s"] > 0 and math.isfinite(row["env_steps_per_s"]) and row["checksum_finite"]
