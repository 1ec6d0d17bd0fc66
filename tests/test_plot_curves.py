"""experiments/plot_curves.py on fake run folders with known curves: masking, final values, PNG, errors."""

import json

import numpy as np
import pytest

from agentmixer_jax.run_record import RunFolder
from experiments import plot_curves as pc
from experiments import train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_run(path, env, algo, per_seed, num_envs=4, num_steps=8):
    """A folder like the one `python -m experiments.train --out path` wrote before the run_record redesign:
    a schema-version-1 summary.json (no `schema_version`, `status` nor `diverged_per_seed`), as the older runs
    of results/summaries have."""
    path.mkdir(parents=True)
    seeds, updates = next(iter(per_seed.values())).shape
    summary = {"env": env, "algo": algo, "seeds": seeds, "env_steps_per_seed": updates * num_envs * num_steps,
               "config": {"algo": algo, "num_envs": num_envs, "num_steps": num_steps,
                          "total_env_steps": updates * num_envs * num_steps},
               "eval": {"return_per_seed": [0.0] * seeds}}
    (path / "summary.json").write_text(json.dumps(summary))
    arrays = {f"{k}_per_seed": np.asarray(v, np.float32) for k, v in per_seed.items()}
    arrays.update({k: np.asarray(v, np.float32).mean(0) for k, v in per_seed.items()})
    np.savez_compressed(path / "metrics.npz", **arrays)
    return path


def write_run(path, env, algo, per_seed, num_envs=4, num_steps=8, eval=None, diverged=None, status="finished",
              eval_curve=None, updates_done=None, **extra):
    """A schema-version-2 run folder written through RunFolder, as today's `python -m experiments.train` writes.

    per_seed: {name: (seeds, updates)}; eval: summary.json's `eval` ({name_per_seed: list}); eval_curve:
    (updates (K,), {name: (K, seeds)})."""
    seeds, updates = np.shape(next(iter(per_seed.values())))
    diverged = [False] * seeds if diverged is None else list(diverged)
    done = updates if updates_done is None else updates_done
    folder = RunFolder(path)
    path.mkdir(parents=True)
    summary = {"env": env, "algo": algo, "seeds": seeds, "seed": 0, "num_updates": updates,
               "env_steps_per_update": num_envs * num_steps,
               "config": {"algo": algo, "num_envs": num_envs, "num_steps": num_steps,
                          "total_env_steps": updates * num_envs * num_steps},
               "status": status, "updates_done": done, "env_steps_per_seed": done * num_envs * num_steps,
               "steps_per_second": 1000.0, "diverged_per_seed": diverged, **extra}
    if eval is not None:
        summary["eval"] = eval
    folder.write_summary(summary)
    folder.write_metrics({k: np.asarray(v, np.float32) for k, v in per_seed.items()}, healthy=~np.asarray(diverged))
    if eval_curve is not None:
        folder.write_eval_curve(*eval_curve)
    return path


def masked_run_arrays():
    """Two seeds, 20 updates (last 10% = 2 updates); the runner writes 0 where no episode finished.

    seed 0: return u at update u, no episode finished in the last update (19) nor in the first (0).
    seed 1: return 2u, no episode finished in updates 18 and 19.
    """
    u = np.arange(20, dtype=np.float64)
    ret = np.stack([u, 2 * u])
    episodes = np.ones((2, 20))
    episodes[0, [0, 19]] = 0
    episodes[1, [18, 19]] = 0
    ret[episodes == 0] = 0.0
    loss = np.stack([u, -u])  # a per-update metric: never masked
    return {"episode_return": ret, "episodes": episodes, "policy_loss": loss}


def test_final_values_mask_updates_without_episodes(tmp_path, capsys):
    run = make_run(tmp_path / "a", "climbing", "mappo", masked_run_arrays(), num_envs=4, num_steps=8)

    # carry: seed 0 -> (18 + 18) / 2 = 18 (update 19 carries update 18), seed 1 -> (34 + 34) / 2 = 34 (update 17)
    res = pc.plot_curves([run], tmp_path / "c.png", resamples=4000)
    (row,) = res.final
    assert row.last_updates == 2 and row.seeds == 2
    np.testing.assert_allclose(row.per_seed, [18.0, 34.0])
    assert row.mean == pytest.approx(26.0)
    # two seeds: a bootstrap mean is 18, 26 or 34 with probabilities 1/4, 1/2, 1/4 -> 2.5% / 97.5% = 18 / 34
    assert (row.ci_low, row.ci_high) == (pytest.approx(18.0), pytest.approx(34.0))
    out = capsys.readouterr().out
    assert "26.000" in out and "[18.000, 34.000]" in out and "mappo" in out
    # the unmasked zeros would have given (9 + 17) / 2 = 13
    assert row.mean != pytest.approx(np.mean(np.load(run / "metrics.npz")["episode_return_per_seed"][:, -2:]))

    # nan: seed 1 has no observed value in the window and is left out; seed 0 -> update 18 only
    (row,) = pc.plot_curves([run], tmp_path / "n.png", fill="nan", verbose=False).final
    assert row.seeds == 1 and row.mean == pytest.approx(18.0)
    assert np.isnan(row.ci_low) and np.isnan(row.ci_high)  # one seed: no interval to give

    # a per-update metric is not masked: seed means of the last two updates, (18.5 + -18.5) / 2 = 0
    (row,) = pc.plot_curves([run], tmp_path / "l.png", metric="policy_loss", verbose=False).final
    np.testing.assert_allclose(row.per_seed, [18.5, -18.5])
    assert row.mean == pytest.approx(0.0)

    # last_fraction 0.5 -> updates 10..19; carry: seed 0 -> (10+...+18 + 18) / 10, seed 1 -> (20+...+34 + 34+34) / 10
    (row,) = pc.plot_curves([run], tmp_path / "h.png", last_fraction=0.5, verbose=False).final
    s0, s1 = (sum(range(10, 19)) + 18) / 10, (2 * sum(range(10, 18)) + 68) / 10
    np.testing.assert_allclose(row.per_seed, [s0, s1])
    assert row.mean == pytest.approx((s0 + s1) / 2)


def test_masked_curves_x_axis_and_smoothing(tmp_path):
    run = pc.load_run(make_run(tmp_path / "a", "climbing", "mappo", masked_run_arrays(), num_envs=4, num_steps=8))
    np.testing.assert_array_equal(run.x, (np.arange(20) + 1) * 32)

    carry = pc.masked_values(run, "episode_return", "carry")
    assert np.isnan(carry[0, 0])  # nothing to carry before the first finished episode
    np.testing.assert_allclose(carry[0, 1:], [*range(1, 19), 18])
    np.testing.assert_allclose(carry[1], [*range(0, 36, 2), 34, 34])
    nan = pc.masked_values(run, "episode_return", "nan")
    assert np.isnan(nan[0, [0, 19]]).all() and np.isnan(nan[1, [18, 19]]).all()
    assert np.isnan(nan).sum() == 4

    # trailing window of 3, NaNs skipped: seed 0 of `nan` -> [nan, 1, 1.5, 2, 3, ...]
    sm = pc.smooth(nan, 3)
    assert np.isnan(sm[0, 0])
    np.testing.assert_allclose(sm[0, 1:4], [1.0, 1.5, 2.0])
    np.testing.assert_allclose(sm[0, 19], (17 + 18) / 2)
    np.testing.assert_allclose(sm[1, 19], 34.0)  # window 17..19: only update 17 was observed
    np.testing.assert_allclose(sm[1, 18], (32 + 34) / 2)  # window 16..18
    np.testing.assert_array_equal(pc.smooth(nan, 1), nan)


def _assert_png(path):
    import matplotlib.image as mpimg

    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img.std() > 0  # something was drawn


def test_panels_by_env_png(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "runs"
    for env in ("protoss_5v5", "terran_5v5"):
        for algo, level in (("agentmixer", 0.6), ("mappo", 0.4)):
            won = np.clip(level + 0.1 * rng.normal(size=(3, 30)), 0, 1)
            eps = rng.integers(0, 3, size=(3, 30)).astype(float)
            won[eps == 0] = 0.0
            make_run(root / f"{env}_{algo}", env, algo,
                     {"episode_won": won, "episode_return": 10 * won, "episodes": eps})
    out = tmp_path / "figs" / "smax.png"
    res = pc.plot_curves([root], out, metric="episode_won", panels_by="env", smooth_window=5,
                         hlines=["0.5:half", (0.1, "random")], verbose=False)
    _assert_png(out)
    assert res.panels == ["protoss_5v5", "terran_5v5"]
    assert res.labels == ["agentmixer", "mappo", "agentmixer", "mappo"]
    assert [(r.env, r.algo) for r in res.final] == [(e, a) for e in ("protoss_5v5", "terran_5v5")
                                                    for a in ("agentmixer", "mappo")]
    # one panel, several envs: "<algo> <env>" labels; explicit labels are used as given
    res = pc.plot_curves([root], tmp_path / "one.png", metric="episode_won", verbose=False)
    assert res.labels[0] == "agentmixer protoss_5v5" and res.panels == []
    res = pc.plot_curves([root / "terran_5v5_mappo"], tmp_path / "lab.png", labels=["MAPPO"], verbose=False)
    assert res.labels == ["MAPPO"]
    with pytest.raises(ValueError, match="1 labels for 4 runs"):
        pc.plot_curves([root], tmp_path / "bad.png", labels=["x"], verbose=False)


def test_cli(tmp_path, capsys):
    run = make_run(tmp_path / "a", "climbing", "ippo", masked_run_arrays())
    out = tmp_path / "cli.png"
    res = pc.main([str(run), "--out", str(out), "--smooth", "3", "--hline", "-30:random", "--hline", "11:optimum"])
    _assert_png(out)
    assert res.final[0].mean == pytest.approx(26.0)
    assert "[18.000, 34.000]" in capsys.readouterr().out


def test_unknown_metric_lists_available(tmp_path, capsys):
    run = make_run(tmp_path / "a", "climbing", "mappo", masked_run_arrays())
    with pytest.raises(ValueError, match="unknown metric 'episode_wonn'") as err:
        pc.plot_curves([run], tmp_path / "x.png", metric="episode_wonn", verbose=False)
    assert "available metrics: episode_return, episodes, policy_loss" in str(err.value)
    assert not (tmp_path / "x.png").exists()

    with pytest.raises(SystemExit) as err:
        pc.main([str(run), "--out", str(tmp_path / "y.png"), "--metric", "won"])
    assert err.value.code == 2
    assert "available metrics: episode_return, episodes, policy_loss" in capsys.readouterr().err

    with pytest.raises(FileNotFoundError, match="no summary.json"):
        pc.plot_curves([tmp_path / "nowhere"], tmp_path / "z.png", verbose=False)


# ----- run_record, diverged seeds, evaluation curves ---------------------------------------------------------

@pytest.fixture
def drawn(monkeypatch):
    """{legend label: (x, y)} of the lines plot_curves draws (the last one per label)."""
    import matplotlib.axes

    lines = {}
    original = matplotlib.axes.Axes.plot

    def spy(self, x, y, *args, **kwargs):
        lines[kwargs.get("label")] = (np.asarray(x), np.asarray(y))
        return original(self, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    return lines


def test_schema_v1_folder_is_read_as_finished(tmp_path):
    path = make_run(tmp_path / "a", "climbing", "mappo", masked_run_arrays())
    assert "schema_version" not in json.loads((path / "summary.json").read_text())
    run = pc.load_run(path)
    assert run.status == "finished" and run.seeds == 2 and run.num_diverged == 0 and run.eval_updates is None


def test_diverged_seeds_are_left_out_of_curves_and_final_values(tmp_path, capsys, drawn):
    """Seed 1 diverged: its (finite but absurd) values must not reach the curve, the band or the table."""
    u = np.arange(20, dtype=np.float64)
    ret = np.stack([u, np.full(20, 1000.0), 2 * u])
    run_dir = write_run(tmp_path / "a", "climbing", "mappo", {"episode_return": ret, "episodes": np.ones((3, 20))},
                        diverged=[False, True, False])
    run = pc.load_run(run_dir)
    assert run.seeds == 3 and run.healthy_seeds == 2 and run.num_diverged == 1
    np.testing.assert_allclose(pc.masked_values(run, "episode_return"), np.stack([u, 2 * u]))

    res = pc.plot_curves([run_dir], tmp_path / "d.png", resamples=500)
    (row,) = res.final
    np.testing.assert_allclose(row.per_seed, [18.5, 37.0])  # last two updates of seeds 0 and 2
    assert row.mean == pytest.approx(27.75) and row.ci_high <= 37.0
    assert row.seeds == 2 and row.diverged == 1 and row.seeds_text == "2 of 3 (1 diverged)"
    out = capsys.readouterr().out
    assert "2 of 3 (1 diverged)" in out and "27.750" in out

    # the drawn curve is the mean of the healthy seeds
    pc.plot_curves([run_dir], tmp_path / "e.png", resamples=50, verbose=False)
    np.testing.assert_allclose(drawn["mappo"][1], 1.5 * u)

    # a run whose every seed diverged has nothing to draw: skipped with a warning, an error when alone
    all_div = write_run(tmp_path / "b", "climbing", "ippo", {"episode_return": ret, "episodes": np.ones((3, 20))},
                        diverged=[True] * 3, status="diverged")
    res = pc.plot_curves([run_dir, all_div], tmp_path / "f.png", resamples=50, verbose=False)
    assert len(res.final) == 1
    assert f"skipping {all_div}: every seed diverged" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no run to plot"):
        pc.plot_curves([all_div], tmp_path / "g.png", verbose=False)


def test_folders_without_summary_or_metrics_are_skipped_with_a_warning(tmp_path, capsys):
    root = tmp_path / "runs"
    make_run(root / "a", "climbing", "mappo", masked_run_arrays())
    (root / "empty").mkdir()
    running = root / "starting"
    running.mkdir()
    RunFolder(running).write_summary({"env": "climbing", "algo": "mappo", "seeds": 2, "status": "running"})
    res = pc.plot_curves([root], tmp_path / "c.png", resamples=50, verbose=False)
    assert [r.label for r in res.final] == ["mappo"]
    err = capsys.readouterr().err
    assert f"skipping {root / 'empty'}: no summary.json" in err
    assert f"skipping {running}:" in err and "metrics.npz is missing" in err and "running" in err


def _eval_run(path, diverged=(False, False, True)):
    """3 seeds evaluated after updates 5, 10, 15, 20 (4 envs x 8 steps per update); seed 2 diverged."""
    u = np.arange(20, dtype=np.float64)
    updates = np.array([5, 10, 15, 20])
    ret = np.array([[1.0, 2.0, 9e9], [3.0, 4.0, 9e9], [5.0, 7.0, 9e9], [6.0, 8.0, 9e9]])  # (K, S)
    won = np.array([[0.0, 0.0, 1.0], [0.5, 0.0, 1.0], [1.0, 0.5, 1.0], [1.0, 0.75, 1.0]])
    return write_run(path, "smax", "mappo", {"episode_return": np.stack([u, u, u]), "episodes": np.ones((3, 20))},
                     diverged=list(diverged), eval_curve=(updates, {"return": ret, "won": won}))


def test_eval_curves(tmp_path, capsys, drawn):
    run_dir = _eval_run(tmp_path / "a")
    run = pc.load_run(run_dir)
    np.testing.assert_array_equal(run.x_for("eval/return"), [160, 320, 480, 640])  # update * 4 envs * 8 steps
    np.testing.assert_array_equal(run.x_for("episode_return"), (np.arange(20) + 1) * 32)
    # eval_curve.npz (K, S) -> (healthy seeds, K): the diverged seed 2 is left out
    np.testing.assert_allclose(pc.masked_values(run, "eval/return"), [[1, 3, 5, 6], [2, 4, 7, 8]])

    res = pc.plot_curves([run_dir], tmp_path / "e.png", metric="eval/return", resamples=500)
    _assert_png(tmp_path / "e.png")
    x, y = drawn["mappo"]
    np.testing.assert_array_equal(x, [160, 320, 480, 640])
    np.testing.assert_allclose(y, [1.5, 3.5, 6.0, 7.0])
    (row,) = res.final
    assert row.last_updates == 1  # the last 10% of 4 evaluations: the last one
    np.testing.assert_allclose(row.per_seed, [6.0, 8.0])
    assert row.mean == pytest.approx(7.0) and (row.ci_low, row.ci_high) == (pytest.approx(6.0), pytest.approx(8.0))
    out = capsys.readouterr().out
    assert "last evaluations" in out and "final eval/return" in out and "2 of 3 (1 diverged)" in out

    # the raw info name and the summary.json name both work; the diverged seed's 1.0 wins are not counted
    for metric in ("eval/won", "eval/win_rate"):
        (row,) = pc.plot_curves([run_dir], tmp_path / "w.png", metric=metric, verbose=False).final
        assert row.mean == pytest.approx(0.875)
    assert pc.SUMMARY_TO_EVAL_NAMES == {v: k for k, v in train.EVAL_NAMES.items()}

    with pytest.raises(ValueError, match=r"unknown evaluation metric 'eval/success_rate'.*eval/return, eval/won"):
        pc.plot_curves([run_dir], tmp_path / "x.png", metric="eval/success_rate", verbose=False)


def test_eval_metric_of_a_run_without_eval_curve(tmp_path, capsys):
    run = make_run(tmp_path / "a", "climbing", "mappo", masked_run_arrays())
    with pytest.raises(ValueError, match="no evaluation curve.*train with --eval-every N"):
        pc.plot_curves([run], tmp_path / "x.png", metric="eval/return", verbose=False)
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(SystemExit) as err:
        pc.main([str(run), "--out", str(tmp_path / "y.png"), "--metric", "eval/return"])
    assert err.value.code == 2 and "--eval-every N" in capsys.readouterr().err
    # an unknown training metric also lists the evaluation curves of a run that has them
    with pytest.raises(ValueError, match="evaluation curves: eval/return, eval/won"):
        pc.plot_curves([_eval_run(tmp_path / "b")], tmp_path / "z.png", metric="return", verbose=False)
