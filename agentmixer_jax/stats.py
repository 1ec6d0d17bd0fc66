"""Interval statistics over seeds, in one place: rliable's stratified bootstrap (Agarwal et al., "Deep RL at the
Edge of the Statistical Precipice", NeurIPS 2021; google-research/rliable).

Every table and plot of this project (results_table, plot_curves, the scan and its notebook, ablate_networks)
gets its intervals here:

    interval(returns, "iqm")               # Estimate(point, low, high, n): IQM with a 95% percentile bootstrap CI
    aggregates(returns)                    # {"iqm", "mean", "optimality_gap"?}: one Estimate each, one bootstrap
    probability_of_improvement(x, y)       # P(X > Y) over seeds (Mann-Whitney U / (n_x n_y)) with its CI
    performance_profile({"a": x}, taus)    # fraction of seeds scoring above each tau, with CIs
    wilson(k, n)                           # the Wilson interval of a rate (e.g. seeds at the optimum)

Values are one score per seed (`(S,)`); several tasks are `(S, T)` (rliable stratifies the bootstrap by task).
NaN entries (diverged seeds) are dropped and counted out: `Estimate.n` says how many seeds a figure rests on.
The bootstrap is seeded (`seed`), so a table printed twice is the same table.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

REPS = 2000  # bootstrap resamples: CI bounds stable to ~1% of the width (rliable's default of 50,000 is slow)
STATISTICS = ("mean", "iqm", "optimality_gap")  # rliable's median is of task means: with one task, the mean


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval over `n` seeds (low/high NaN when n < 2)."""

    point: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return self.format()

    def format(self, digits: int = 3) -> str:
        """`1.234 [1.100, 1.300]`; `n/a` without data; no interval with one seed."""
        if self.n == 0 or not math.isfinite(self.point):
            return "n/a"
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"{self.point:.{digits}f}"
        return f"{self.point:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    @property
    def half_width(self) -> float:
        return 0.5 * (self.high - self.low)


def _scores(values) -> np.ndarray:
    """(S,) or (S, T) -> (S', T) float64 with every seed that has a NaN in any task dropped."""
    v = np.asarray(values, np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2:
        raise ValueError(f"scores must be (seeds,) or (seeds, tasks); got shape {v.shape}")
    return v[np.all(np.isfinite(v), axis=1)]


def _statistic(stat: str, gamma: float | None = None):
    from rliable import metrics

    if stat == "mean":
        return metrics.aggregate_mean
    if stat == "iqm":
        return metrics.aggregate_iqm
    if stat == "optimality_gap":
        if gamma is None:
            raise ValueError("optimality_gap needs gamma, the score counted as optimal (e.g. the task's best return)")
        return lambda s: metrics.aggregate_optimality_gap(s, gamma)
    raise ValueError(f"unknown statistic {stat!r}; choose one of {', '.join(STATISTICS)}")


def _bootstrap(scores: Mapping, func, level: float, reps: int, seed: int):
    from rliable import library

    # rliable 1.2's stratified bootstraps draw their indices from numpy's global generator (np.random.choice) and
    # ignore random_state: seed that generator for the call, and give the caller's state back afterwards
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # arch's notice that random_state will become `generator`
            return library.get_interval_estimates(scores, func, reps=reps, confidence_interval_size=level,
                                                  random_state=np.random.RandomState(seed))
    finally:
        np.random.set_state(saved)


def interval(values, stat: str = "mean", *, gamma: float | None = None, level: float = 0.95, reps: int = REPS,
             seed: int = 0) -> Estimate:
    """`stat` (mean, iqm, optimality_gap at `gamma`) of the finite seeds' scores with a stratified
    percentile-bootstrap CI at `level`."""
    func = _statistic(stat, gamma)
    s = _scores(values)
    n = len(s)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    point = float(func(s))
    if n == 1 or np.all(s == s[0]):
        spread = math.nan if n == 1 else point  # identical seeds: every resample gives the point
        return Estimate(point, spread, spread, n)
    points, cis = _bootstrap({"x": s}, lambda x: np.array([func(x)]), level, reps, seed)
    return Estimate(point, float(cis["x"][0, 0]), float(cis["x"][1, 0]), n)


def aggregates(values, stats: Sequence[str] = ("iqm", "mean"), *, gamma: float | None = None,
               level: float = 0.95, reps: int = REPS, seed: int = 0) -> dict[str, Estimate]:
    """Several statistics of the same seeds from one bootstrap: {stat: Estimate}. Add "optimality_gap" (with
    `gamma`) for the gap to a known optimum."""
    funcs = [_statistic(s, gamma) for s in stats]
    s = _scores(values)
    n = len(s)
    if n < 2 or np.all(s == s[0]):
        return {name: interval(s, name, gamma=gamma) for name in stats}
    all_funcs = lambda x: np.array([f(x) for f in funcs])
    points, cis = _bootstrap({"x": s}, all_funcs, level, reps, seed)
    return {name: Estimate(float(points["x"][i]), float(cis["x"][0, i]), float(cis["x"][1, i]), n)
            for i, name in enumerate(stats)}


def probability_of_improvement(x, y, *, level: float = 0.95, reps: int = REPS, seed: int = 0) -> Estimate:
    """P(X > Y): the probability that a seed of X scores above a seed of Y (ties count half), averaged over tasks,
    with a bootstrap CI resampling X's and Y's seeds independently. `n` is min(seeds of X, seeds of Y)."""
    from rliable import metrics

    sx, sy = _scores(x), _scores(y)
    n = min(len(sx), len(sy))
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    if sx.shape[1] != sy.shape[1]:
        raise ValueError(f"x and y must score the same tasks: {sx.shape[1]} vs {sy.shape[1]} columns")
    point = float(metrics.probability_of_improvement(sx, sy))
    if n < 2:
        return Estimate(point, math.nan, math.nan, n)
    _, cis = _bootstrap({"xy": (sx, sy)}, metrics.probability_of_improvement, level, reps, seed)
    low, high = np.ravel(cis["xy"])
    return Estimate(point, float(low), float(high), n)


def performance_profile(scores: Mapping[str, object], taus, *, level: float = 0.95, reps: int = REPS,
                        seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{name: (fraction of seeds scoring above each tau (len(taus),), low, high)} (rliable's score distributions)."""
    from rliable import metrics  # noqa: F401  (rliable's library module expects its metrics imported)

    taus = np.asarray(taus, np.float64)
    cleaned = {k: _scores(v) for k, v in scores.items()}
    out = {}
    for name, s in cleaned.items():
        if len(s) == 0:
            nan = np.full(taus.shape, np.nan)
            out[name] = (nan, nan, nan)
            continue
        profile = lambda x: np.array([np.mean(x > t) for t in taus])
        if len(s) < 2:
            p = profile(s)
            out[name] = (p, np.full(taus.shape, np.nan), np.full(taus.shape, np.nan))
            continue
        points, cis = _bootstrap({name: s}, profile, level, reps, seed)
        out[name] = (np.asarray(points[name]), np.asarray(cis[name][0]), np.asarray(cis[name][1]))
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a rate of k successes in n trials (seeds at the optimum, wins)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _nan_trim_mean(x: np.ndarray, cut: float = 0.25) -> np.ndarray:
    """scipy.stats.trim_mean over axis 0 of each column's finite entries (vectorised; NaN where none)."""
    srt = np.sort(x, axis=0)  # NaN sort last
    n = np.isfinite(x).sum(0)
    low = np.floor(cut * n).astype(int)
    idx = np.arange(x.shape[0])[:, None]
    keep = (idx >= low) & (idx < n - low)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(keep, np.nan_to_num(srt), 0.0).sum(0) / keep.sum(0)


def curve_interval(values, stat: str = "mean", *, level: float = 0.95, reps: int = REPS, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A statistic over seeds at every point of a curve, with its bootstrap band: values `(S, M)` (NaN = no data
    at that point for that seed, skipped) -> (point, low, high), each `(M,)`. One resample of the seeds serves
    every point (rliable's runs x tasks x points layout), so the band is a band of whole curves."""
    v = np.asarray(values, np.float64)
    if v.ndim != 2:
        raise ValueError(f"curves must be (seeds, points); got shape {v.shape}")
    if stat == "mean":
        raw = lambda x: np.nanmean(x[:, 0, :], axis=0)
    elif stat == "median":
        raw = lambda x: np.nanmedian(x[:, 0, :], axis=0)
    elif stat == "iqm":
        raw = lambda x: _nan_trim_mean(x[:, 0, :])
    else:
        raise ValueError(f"unknown curve statistic {stat!r}; choose mean, median or iqm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        full = raw(v[:, None, :])

    def func(x):  # a resample that drew only seeds without data at a point counts the full sample's value there
        out = raw(x)
        return np.where(np.isfinite(out), out, full)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # points no seed reached: NaN
        point = full
        n_valid = np.isfinite(v).sum(0)
        if v.shape[0] < 2:
            return point, point.copy(), point.copy()
        _, cis = _bootstrap({"x": v[:, None, :]}, func, level, reps, seed)
    low, high = cis["x"][0], cis["x"][1]
    low = np.where(n_valid == 1, point, np.where(n_valid == 0, np.nan, low))  # one seed there: no spread
    high = np.where(n_valid == 1, point, np.where(n_valid == 0, np.nan, high))
    return point, low, high
