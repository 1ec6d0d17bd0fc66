"""Learning curves of one or more training runs (folders written by `python -m experiments.train`) to a PNG.

    python -m experiments.plot_curves runs/matrix/climbing_agentmixer runs/matrix/climbing_mappo --out climbing.png
    python -m experiments.plot_curves runs/matrix --metric episode_optimal --smooth 5 --out matrix.png
    python -m experiments.plot_curves runs/smax/* --metric episode_won --panels-by env --hline 0.5:half --out smax.png

Each run folder holds `summary.json` (env, algo, seeds, config with num_envs / num_steps) and `metrics.npz`
(`<metric>_per_seed` arrays of shape (seeds, num_updates)). A folder without a `summary.json` is expanded to
its sub-folders that have one, so `runs/matrix` plots every run in it.

What is drawn, per run: x = env steps per seed after each update, `(update + 1) * num_envs * num_steps`;
y = the mean over seeds of the chosen metric, with a shaded 95% percentile-bootstrap interval of that mean
(seeds resampled with replacement, a fixed generator seed, so the picture is reproducible). One line per
run, labelled `<algo>` (`<algo> <env>` when the runs cover several envs and they share one panel).

Updates without a finished episode. The runner records an episode statistic (`episode_return`,
`episode_won`, ... every metric named `episode_*`) as the mean over the episodes that finished in that
update, and as 0 when none finished (`episodes_per_seed == 0`). That 0 is not an observation: with long
episodes (SMAX, bridge) most updates of a seed can end no episode, and averaging those zeros in would drag
the curve towards 0. Such entries are therefore masked before anything else (smoothing, seed mean, the
final-value table), in one of two ways (`--fill`):

- `carry` (default): the seed's last observed value is carried forward, i.e. the curve shows "the most
  recent episode statistic of each seed", the usual logging convention of RL trainers. Every seed keeps
  contributing to every update once it has finished one episode, so the seed mean does not jump when a
  different subset of seeds happens to finish episodes. Before a seed's first finished episode there is
  nothing to carry: those entries stay missing (NaN) and that seed is left out of those updates.
- `nan`: masked entries stay missing; means are NaN-means over the seeds (and, for smoothing, over the
  updates of the window) that did finish an episode.

The metrics.npz seed means (`<metric>` without `_per_seed`) average those zeros in; they are not used here.
Other metrics (losses, entropy, `episodes`) are per-update quantities and are never masked.

`--smooth W` is a trailing moving average over the last W updates (fewer at the start), per seed, before
the mean over seeds; missing entries are skipped inside the window.

The final-value table printed at the end (and returned by `plot_curves`) gives, per run, the mean over
seeds of each seed's average over the last 10% of updates (at least one update; `--last-fraction`),
computed on the masked, unsmoothed values, with the same bootstrap 95% interval over seeds. Seeds with no
observed value in that window (possible only with `--fill nan`) are left out and the `seeds` column says
how many remained.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import tyro

Fill = Literal["carry", "nan"]
PanelsBy = Literal["none", "env", "algo"]


# ----- loading ------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Run:
    """One training folder: the summary and the per-seed curves of metrics.npz."""

    path: Path
    env: str
    algo: str
    seeds: int
    env_steps_per_seed: int
    steps_per_update: float
    per_seed: dict[str, np.ndarray]  # metric name -> (seeds, num_updates)

    @property
    def num_updates(self) -> int:
        return next(iter(self.per_seed.values())).shape[1]

    @property
    def x(self) -> np.ndarray:
        """Env steps per seed after each update: (update + 1) * num_envs * num_steps."""
        return (np.arange(self.num_updates) + 1) * self.steps_per_update


def expand_run_dirs(paths: Sequence[Path | str]) -> list[Path]:
    """Run folders as given; a folder without summary.json stands for its sub-folders that have one."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "summary.json").is_file():
            out.append(p)
            continue
        subs = sorted(q.parent for q in p.glob("*/summary.json")) if p.is_dir() else []
        if not subs:
            raise FileNotFoundError(f"{p}: no summary.json there nor in its sub-folders; is it a training run "
                                    "folder (python -m experiments.train --out DIR)?")
        out.extend(subs)
    return out


def load_run(path: Path | str) -> Run:
    """Read DIR/summary.json and DIR/metrics.npz."""
    path = Path(path)
    summary = json.loads((path / "summary.json").read_text())
    npz_path = path / "metrics.npz"
    if not npz_path.is_file():
        raise FileNotFoundError(f"{npz_path} is missing; it is written by python -m experiments.train")
    with np.load(npz_path) as npz:
        per_seed = {k.removesuffix("_per_seed"): np.asarray(npz[k], dtype=np.float64)
                    for k in npz.files if k.endswith("_per_seed")}
    if not per_seed:
        raise ValueError(f"{npz_path} holds no <metric>_per_seed arrays")
    per_seed = {k: v.reshape(1, -1) if v.ndim == 1 else v for k, v in per_seed.items()}
    num_updates = next(iter(per_seed.values())).shape[1]
    cfg = summary.get("config", {})
    env_steps = int(summary.get("env_steps_per_seed", 0))
    if "num_envs" in cfg and "num_steps" in cfg:
        steps_per_update = float(cfg["num_envs"] * cfg["num_steps"])
    elif env_steps:
        steps_per_update = env_steps / num_updates
    else:
        raise ValueError(f"{path / 'summary.json'}: neither config.num_envs/num_steps nor env_steps_per_seed")
    return Run(path=path, env=str(summary.get("env", "?")), algo=str(summary.get("algo", "?")),
               seeds=int(summary.get("seeds", next(iter(per_seed.values())).shape[0])),
               env_steps_per_seed=env_steps or int(round(steps_per_update * num_updates)),
               steps_per_update=steps_per_update, per_seed=per_seed)


# ----- masking, smoothing, intervals ----------------------------------------------------------------------

def is_episode_metric(name: str) -> bool:
    """Episode statistics are averaged over the episodes that finished in an update (0 when none did)."""
    return name.startswith("episode_")


def masked_values(run: Run, metric: str, fill: Fill = "carry") -> np.ndarray:
    """(seeds, num_updates) values of `metric`, updates without a finished episode masked (module docstring).

    Raises ValueError listing the available metrics when `metric` is not in the run.
    """
    if metric not in run.per_seed:
        names = ", ".join(sorted(run.per_seed))
        raise ValueError(f"unknown metric {metric!r} in {run.path}; available metrics: {names}")
    values = run.per_seed[metric].copy()
    if not is_episode_metric(metric) or "episodes" not in run.per_seed:
        return values
    observed = run.per_seed["episodes"] > 0
    values[~observed] = np.nan
    if fill == "carry":
        # index of the last observed update at or before each update (-1 before the first one)
        idx = np.where(observed, np.arange(values.shape[1]), -1)
        idx = np.maximum.accumulate(idx, axis=1)
        carried = np.take_along_axis(values, np.maximum(idx, 0), axis=1)
        values = np.where(idx >= 0, carried, np.nan)
    elif fill != "nan":
        raise ValueError(f"fill must be 'carry' or 'nan', not {fill!r}")
    return values


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over the last `window` updates (axis -1), skipping NaNs; NaN if all are."""
    if window <= 1:
        return values
    valid = ~np.isnan(values)
    zero = np.zeros((*values.shape[:-1], 1))
    csum = np.concatenate([zero, np.cumsum(np.where(valid, values, 0.0), axis=-1)], axis=-1)
    ccount = np.concatenate([zero, np.cumsum(valid, axis=-1)], axis=-1)
    n = values.shape[-1]
    hi = np.arange(1, n + 1)
    lo = np.maximum(hi - window, 0)
    total = csum[..., hi] - csum[..., lo]
    count = ccount[..., hi] - ccount[..., lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def bootstrap_ci(values: np.ndarray, resamples: int = 2000, level: float = 0.95, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0, NaNs skipped) and its percentile-bootstrap interval.

    values: (seeds,) or (seeds, M). Seeds are resampled with replacement `resamples` times; each resample's
    NaN-mean is one bootstrap draw (one multinomial count vector per draw, shared by all M columns, so a
    (seeds, updates) curve costs one matrix product). Returns (mean, low, high), each of shape values.shape[1:].
    Columns with one observed seed get a zero-width interval; columns with none are NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(values.shape[0], -1)
    valid = ~np.isnan(flat)
    n_valid = valid.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_valid > 0, np.where(valid, flat, 0.0).sum(0) / np.maximum(n_valid, 1), np.nan)
    s = flat.shape[0]
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(s, np.full(s, 1.0 / s), size=resamples).astype(np.float64)  # (resamples, seeds)
    num = counts @ np.where(valid, flat, 0.0)
    den = counts @ valid.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = np.where(den > 0, num / den, np.nan)
    alpha = 100.0 * (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        low, high = np.nanpercentile(draws, [alpha, 100.0 - alpha], axis=0)
    one = n_valid == 1
    low, high = np.where(one, mean, low), np.where(one, mean, high)
    low, high = np.where(n_valid > 0, low, np.nan), np.where(n_valid > 0, high, np.nan)
    shape = values.shape[1:]
    return mean.reshape(shape), low.reshape(shape), high.reshape(shape)


@dataclasses.dataclass
class FinalValue:
    """One row of the final-value table."""

    label: str
    env: str
    algo: str
    metric: str
    seeds: int  # seeds with an observed value in the window
    last_updates: int  # updates averaged per seed
    mean: float
    ci_low: float
    ci_high: float
    per_seed: np.ndarray  # each seed's average over the window (NaN for seeds left out)


def final_value(run: Run, metric: str, label: str, fill: Fill = "carry", last_fraction: float = 0.1,
                resamples: int = 2000) -> FinalValue:
    """Mean over seeds of each seed's mean over the last `last_fraction` of updates (masked, unsmoothed)."""
    values = masked_values(run, metric, fill)
    k = max(1, math.ceil(last_fraction * values.shape[1]))
    window = values[:, -k:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # seeds with nothing observed in the window
        per_seed = np.nanmean(window, axis=1)
    mean, low, high = bootstrap_ci(per_seed, resamples)
    return FinalValue(label=label, env=run.env, algo=run.algo, metric=metric,
                      seeds=int(np.sum(~np.isnan(per_seed))), last_updates=k, mean=float(mean),
                      ci_low=float(low), ci_high=float(high), per_seed=per_seed)


# ----- drawing --------------------------------------------------------------------------------------------

def _human(n: float) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:g}"


def parse_hline(spec: str) -> tuple[float, str]:
    """'VALUE:LABEL' (or just 'VALUE') -> (value, label)."""
    value, _, label = spec.partition(":")
    try:
        return float(value), label
    except ValueError as err:
        raise ValueError(f"--hline {spec!r}: expected VALUE:LABEL, e.g. 0.5:random") from err


def _title(runs: Sequence[Run]) -> str:
    def joined(xs):
        return "/".join(dict.fromkeys(xs))

    envs = joined(r.env for r in runs)
    seeds = "/".join(str(s) for s in sorted({r.seeds for r in runs}))
    budget = "/".join(_human(b) for b in sorted({r.env_steps_per_seed for r in runs}))
    return f"{envs}: {seeds} seeds, {budget} env steps per seed"


@dataclasses.dataclass
class PlotResult:
    out: Path
    final: list[FinalValue]
    labels: list[str]
    panels: list[str]  # panel titles, in drawing order


def plot_curves(run_dirs: Sequence[Path | str], out: Path | str = "curves.png", metric: str = "episode_return",
                smooth_window: int = 1, labels: Sequence[str] | None = None, panels_by: PanelsBy = "none",
                hlines: Sequence[str | tuple[float, str]] = (), fill: Fill = "carry", last_fraction: float = 0.1,
                resamples: int = 2000, title: str | None = None, dpi: int = 120, verbose: bool = True
                ) -> PlotResult:
    """Draw the learning curves of `run_dirs` into the PNG `out` and return (and print) the final values.

    See the module docstring for what is drawn and how updates without finished episodes are masked.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    runs = [load_run(p) for p in expand_run_dirs(run_dirs)]
    for run in runs:  # fail on a bad metric before drawing anything
        masked_values(run, metric, fill)
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs ({', '.join(str(r.path) for r in runs)})")
    several_envs = len({r.env for r in runs}) > 1
    if labels is None:
        if panels_by == "env":
            labels = [r.algo for r in runs]
        elif panels_by == "algo":
            labels = [r.env for r in runs]
        else:
            labels = [f"{r.algo} {r.env}" if several_envs else r.algo for r in runs]
        # the same algo (and env) twice, e.g. two hyperparameter settings: tell them apart by folder name
        keys = [(getattr(r, panels_by) if panels_by != "none" else "", lab) for r, lab in zip(runs, labels)]
        labels = [f"{lab} ({r.path.name})" if keys.count(key) > 1 else lab
                  for r, lab, key in zip(runs, labels, keys)]
    labels = list(labels)
    hl = [parse_hline(h) if isinstance(h, str) else (float(h[0]), str(h[1])) for h in hlines]

    panel_keys = list(dict.fromkeys(getattr(r, panels_by) for r in runs)) if panels_by != "none" else [""]
    series_keys = list(dict.fromkeys(r.algo if panels_by == "env" else lab for r, lab in zip(runs, labels)))
    colors = plt.get_cmap("tab10" if len(series_keys) <= 10 else "tab20")
    ncols = len(panel_keys)
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols if ncols > 1 else 7.0, 4.3), squeeze=False,
                             sharey=False)
    axes = axes[0]
    for ax, key in zip(axes, panel_keys):
        panel_runs = [(r, lab) for r, lab in zip(runs, labels) if panels_by == "none" or getattr(r, panels_by) == key]
        for r, lab in panel_runs:
            values = smooth(masked_values(r, metric, fill), smooth_window)
            mean, low, high = bootstrap_ci(values, resamples)
            color = colors(series_keys.index(r.algo if panels_by == "env" else lab) % colors.N)
            ax.plot(r.x, mean, color=color, label=lab, lw=1.6)
            ax.fill_between(r.x, low, high, color=color, alpha=0.2, lw=0)
        for i, (value, text) in enumerate(hl):
            ax.axhline(value, color="0.3", ls=("--", ":", "-.")[i % 3], lw=1.0, label=text or None)
        ax.set_xlabel("env steps per seed")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.grid(alpha=0.3)
        if panels_by != "none":
            ax.set_title(f"{key}: {_title([r for r, _ in panel_runs]).split(': ', 1)[1]}", fontsize=9)
        ax.legend(fontsize=8, frameon=False)
    axes[0].set_ylabel(metric + (f" (moving average of {smooth_window} updates)" if smooth_window > 1 else ""))
    band = f"mean over seeds, 95% bootstrap CI; fill={fill}"
    if panels_by == "none":
        axes[0].set_title(f"{title or _title(runs)}\n{band}", fontsize=10)
    else:
        fig.suptitle(f"{title or _title(runs)}  ({band})", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)

    final = [final_value(r, metric, lab, fill, last_fraction, resamples) for r, lab in zip(runs, labels)]
    if verbose:
        print(format_table(final))
        print(f"wrote {out}")
    return PlotResult(out=out, final=final, labels=labels, panels=panel_keys if panels_by != "none" else [])


def format_table(rows: Sequence[FinalValue]) -> str:
    """Plain-text final-value table: mean over seeds [95% bootstrap CI] of the last updates."""
    if not rows:
        return ""
    head = ("run", "env", "seeds", "last updates", f"final {rows[0].metric}", "95% CI")
    body = [(r.label, r.env, str(r.seeds), str(r.last_updates), f"{r.mean:.3f}",
             f"[{r.ci_low:.3f}, {r.ci_high:.3f}]") for r in rows]
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in (head, *body)]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


# ----- CLI ------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Args:
    """Plot learning curves (mean over seeds, 95% bootstrap CI) of training runs to a PNG."""

    runs: tyro.conf.Positional[tuple[Path, ...]]
    """Run folders (each with summary.json and metrics.npz), or folders of run folders."""
    out: Path = Path("curves.png")
    """Output PNG."""
    metric: str = "episode_return"
    """Metric of metrics.npz to plot, e.g. episode_return, episode_won, episode_success, entropy."""
    smooth: int = 1
    """Trailing moving-average window in updates, applied per seed before the seed mean (1 = none)."""
    labels: tuple[str, ...] | None = None
    """One legend label per run, in order (default: algo, or 'algo env' when several envs share a panel)."""
    panels_by: PanelsBy = "none"
    """One subplot per env (lines = algos) or per algo (lines = envs)."""
    hline: tyro.conf.UseAppendAction[tuple[str, ...]] = ()
    """Reference line VALUE:LABEL on every panel; repeat for several: --hline -30:random --hline 11:optimum."""
    fill: Fill = "carry"
    """Episode metrics in updates where a seed finished no episode: carry the last value, or leave out (nan)."""
    last_fraction: float = 0.1
    """Fraction of the last updates averaged per seed in the final-value table."""
    resamples: int = 2000
    """Bootstrap resamples of the seeds."""
    title: str | None = None
    """Title (default: env, seeds and env steps per seed)."""


def main(argv: list[str] | None = None) -> PlotResult:
    args = tyro.cli(Args, args=sys.argv[1:] if argv is None else argv)
    try:
        return plot_curves(args.runs, args.out, args.metric, args.smooth, args.labels, args.panels_by, args.hline,
                           args.fill, args.last_fraction, args.resamples, args.title)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err


if __name__ == "__main__":
    main()
