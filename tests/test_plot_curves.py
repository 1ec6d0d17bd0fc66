"""experiments/plot_curves.py on fake run folders with known curves: masking, final values, PNG, errors."""

import json

import numpy as np
import pytest

from experiments import plot_curves as pc

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_run(path, env, algo, per_seed, num_envs=4, num_steps=8):
    """A folder like the one `python -m experiments.train --out path` writes."""
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
    assert (row.ci_low, row.ci_high) == (pytest.approx(18.0), pytest.approx(18.0))

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


def test_bootstrap_ci():
    same = np.full((8, 3), 2.5)
    mean, lo, hi = pc.bootstrap_ci(same)
    np.testing.assert_allclose([mean, lo, hi], 2.5)

    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=400)
    mean, lo, hi = pc.bootstrap_ci(x, resamples=4000)
    assert mean == pytest.approx(x.mean())
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert lo == pytest.approx(x.mean() - half, abs=0.25 * half)
    assert hi == pytest.approx(x.mean() + half, abs=0.25 * half)

    # NaN entries are left out of the mean; a column with one observed seed has a zero-width interval
    col = np.array([[1.0, np.nan, np.nan], [3.0, 5.0, np.nan]])
    mean, lo, hi = pc.bootstrap_ci(col)
    np.testing.assert_allclose(mean[:2], [2.0, 5.0])
    np.testing.assert_allclose([lo[1], hi[1]], [5.0, 5.0])
    assert np.isnan([mean[2], lo[2], hi[2]]).all()


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
