"""Interval statistics (agentmixer_jax/stats.py, rliable): point estimates equal their definitions, intervals cover
and shrink as they should, NaN seeds are counted out, and the bootstrap is reproducible."""

import numpy as np
import pytest
from scipy.stats import trim_mean

from agentmixer_jax import stats


def test_point_estimates_match_their_definitions():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 1.0, size=40)
    agg = stats.aggregates(x, ("iqm", "mean", "optimality_gap"), gamma=2.5)
    assert agg["mean"].point == pytest.approx(x.mean())
    assert agg["iqm"].point == pytest.approx(trim_mean(x, 0.25))
    assert agg["optimality_gap"].point == pytest.approx(2.5 - np.minimum(x, 2.5).mean())
    for e in agg.values():
        assert e.low < e.point < e.high and e.n == 40


def test_mean_interval_is_close_to_the_normal_one_for_many_seeds():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=400)
    e = stats.interval(x, "mean", reps=4000)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert e.low == pytest.approx(x.mean() - half, abs=0.25 * half)
    assert e.high == pytest.approx(x.mean() + half, abs=0.25 * half)
    assert stats.interval(x[:40], "mean").half_width > 2 * e.half_width  # 10x fewer seeds: ~3x wider


def test_nan_seeds_are_counted_out_and_the_bootstrap_is_seeded():
    x = np.array([1.0, np.nan, 3.0, 5.0, np.nan])
    e = stats.interval(x, "mean")
    assert e.n == 3 and e.point == pytest.approx(3.0)
    y = np.random.default_rng(4).normal(size=30)
    assert stats.interval(y, "iqm") == stats.interval(y, "iqm") != stats.interval(y, "iqm", seed=1)
    assert stats.interval([np.nan, np.nan]).format() == "n/a"
    one = stats.interval([2.0])
    assert one.n == 1 and one.format() == "2.000" and np.isnan(one.low)
    assert stats.interval([2.0, 2.0, 2.0]).format() == "2.000 [2.000, 2.000]"
    with pytest.raises(ValueError, match="unknown statistic"):
        stats.interval(x, "mode")
    with pytest.raises(ValueError, match="needs gamma"):
        stats.interval(x, "optimality_gap")


def test_probability_of_improvement():
    a, b = np.arange(10.0) + 100, np.arange(10.0)
    assert stats.probability_of_improvement(a, b).point == 1.0
    assert stats.probability_of_improvement(b, a).point == 0.0
    assert stats.probability_of_improvement(a, a).point == 0.5
    rng = np.random.default_rng(2)
    x, y = rng.normal(0.5, 1.0, 64), rng.normal(0.0, 1.0, 64)
    e = stats.probability_of_improvement(x, y)
    manual = np.mean(x[:, None] > y[None, :]) + 0.5 * np.mean(x[:, None] == y[None, :])
    assert e.point == pytest.approx(manual) and e.low < e.point < e.high and 0.5 < e.point


def test_curve_interval_bands_and_missing_points():
    same = np.full((8, 3), 2.5)
    point, low, high = stats.curve_interval(same)
    np.testing.assert_allclose([point, low, high], 2.5)
    # two seeds: a bootstrap mean is 18, 26 or 34 with probabilities 1/4, 1/2, 1/4 -> 2.5% / 97.5% = 18 / 34
    point, low, high = stats.curve_interval(np.array([[18.0], [34.0]]), reps=4000)
    assert (point[0], low[0], high[0]) == (26.0, 18.0, 34.0)
    # NaN entries are left out of each point; one observed seed: a zero-width band; none: NaN
    col = np.array([[1.0, np.nan, np.nan], [3.0, 5.0, np.nan]])
    point, low, high = stats.curve_interval(col)
    np.testing.assert_allclose(point[:2], [2.0, 5.0])
    np.testing.assert_allclose([low[1], high[1]], [5.0, 5.0])
    assert np.isnan([point[2], low[2], high[2]]).all()
    x = np.random.default_rng(3).normal(size=(32, 50))
    point, low, high = stats.curve_interval(x, "iqm")
    np.testing.assert_allclose(point, trim_mean(x, 0.25, axis=0))
    assert np.all(low < point) and np.all(point < high)


def test_performance_profile_and_wilson():
    prof = stats.performance_profile({"a": np.arange(10.0)}, [-1.0, 4.5, 100.0])
    p, lo, hi = prof["a"]
    np.testing.assert_allclose(p, [1.0, 0.5, 0.0])
    assert lo[1] < 0.5 < hi[1]
    lo, hi = stats.wilson(8, 10)
    assert 0.4 < lo < 0.8 < hi < 1.0
    assert stats.wilson(0, 10)[0] == 0.0 and stats.wilson(10, 10)[1] == 1.0
