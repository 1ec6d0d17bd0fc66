"""Learning curves of one or more training runs (folders written by `python -m experiments.train`) to a PNG.

    python -m experiments.plot_curves runs/matrix/climbing_agentmixer runs/matrix/climbing_mappo --out climbing.png
    python -m experiments.plot_curves runs/matrix --metric episode_optimal --smooth 5 --out matrix.png
    python -m experiments.plot_curves runs/smax/* --metric episode_won --panels-by env --hline 0.5:half --out smax.png
    python -m experiments.plot_curves runs/pp/* --metric eval/return --out pp_eval.png  # trained with --eval-every N

Run folders are read through `agentmixer_jax.run_record`: `summary.json` (env, algo, seeds, config with
num_envs / num_steps, `diverged_per_seed`), `metrics.npz` (`<metric>_per_seed` arrays of shape (seeds,
num_updates)) and, for `eval/` metrics, `eval_curve.npz`. A folder without a `summary.json` stands for its
sub-folders that have one (`run_record.find_runs`), so `runs/matrix` plots every run in it; folders without a
summary, and runs that have not written metrics.npz yet, are skipped with a warning on stderr.

Diverged seeds. A seed whose parameters or losses went non-finite during training (`diverged_per_seed` in
summary.json) is left out of everything here: its curve, the seed mean and bootstrap band, and the
final-value table, whose `seeds` column then reads e.g. `3 of 4 (1 diverged)`. A run whose every seed
diverged has nothing to draw and is skipped with a warning.

Evaluation curves. `--metric eval/<name>` draws the periodic decentralised greedy evaluations that
`python -m experiments.train --eval-every N` stores in `eval_curve.npz`, at x = update * env steps per update,
with the same seed mean and bootstrap band. `<name>` is the env info name as stored there (`return`,
`length`, `won`, `success`, `optimal`, ...; AIL's `expert_return`, ...); the summary.json names `win_rate` and
`success_rate` are accepted for `won` and `success`. Evaluation values are never masked; `--smooth W` then
averages over the last W evaluations and the final-value table over the last `--last-fraction` of the
evaluations (at least the last one). A run without `eval_curve.npz` is an error ("train with --eval-every N").

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
observed value in that window (possible only with `--fill nan`, or a non-finite evaluation) are left out
and the `seeds` column says how many remained (and how many diverged seeds were left out before that).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import tyro

from agentmixer_jax import stats
from agentmixer_jax.run_record import RunFolder, RunFolderError, find_runs

Fill = Literal["carry", "nan"]
PanelsBy = Literal["none", "env", "algo"]


# ----- loading ------------------------------------------------------------------------------------------

EVAL_PREFIX = "eval/"
# summary.json names of env info scalars -> eval_curve.npz's raw names (the inverse of experiments.train.EVAL_NAMES)
SUMMARY_TO_EVAL_NAMES = {"win_rate": "won", "success_rate": "success"}


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


@dataclasses.dataclass
class Run:
    """One training folder: the summary and the per-seed curves of metrics.npz and eval_curve.npz.

    The curves hold the healthy seeds only: `per_seed` and `eval_per_seed` leave out the seeds that
    `diverged` marks (`seeds` counts all of them)."""

    path: Path
    env: str
    algo: str
    seeds: int  # all seeds of the run, diverged ones included
    env_steps_per_seed: int
    steps_per_update: float
    per_seed: dict[str, np.ndarray]  # metric name -> (healthy seeds, num_updates)
    diverged: np.ndarray | None = None  # (seeds,) bool; None: none diverged
    status: str = "finished"
    eval_updates: np.ndarray | None = None  # (K,) updates after which the run was evaluated; None: no eval curve
    eval_per_seed: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # raw name -> (healthy seeds, K)

    def __post_init__(self):
        if self.diverged is None:
            self.diverged = np.zeros(self.seeds, bool)

    @property
    def num_updates(self) -> int:
        return next(iter(self.per_seed.values())).shape[1]

    @property
    def num_diverged(self) -> int:
        return int(np.sum(self.diverged))

    @property
    def healthy_seeds(self) -> int:
        return self.seeds - self.num_diverged

    @property
    def x(self) -> np.ndarray:
        """Env steps per seed after each update: (update + 1) * num_envs * num_steps."""
        return (np.arange(self.num_updates) + 1) * self.steps_per_update

    def x_for(self, metric: str) -> np.ndarray:
        """The x values of `metric`: `x` for training metrics, update * steps per update for evaluations."""
        if is_eval_metric(metric):
            eval_name(self, metric)  # a clear error when the run has no such evaluation
            return np.asarray(self.eval_updates, np.float64) * self.steps_per_update
        return self.x


def is_eval_metric(name: str) -> bool:
    """`eval/<name>`: a periodic greedy evaluation of eval_curve.npz rather than a metric of metrics.npz."""
    return name.startswith(EVAL_PREFIX)


def eval_name(run: Run, metric: str) -> str:
    """The eval_curve.npz name of `eval/<name>`, accepting summary names (win_rate -> won); ValueError if absent."""
    name = metric.removeprefix(EVAL_PREFIX)
    if run.eval_updates is None:
        raise ValueError(f"{run.path} has no evaluation curve (no eval_curve.npz) to plot {metric}: train with "
                         "--eval-every N to evaluate every N updates")
    if name in run.eval_per_seed:
        return name
    for summary_name, raw in SUMMARY_TO_EVAL_NAMES.items():
        if name.endswith(summary_name) and name.removesuffix(summary_name) + raw in run.eval_per_seed:
            return name.removesuffix(summary_name) + raw
    names = ", ".join(EVAL_PREFIX + k for k in sorted(run.eval_per_seed))
    raise ValueError(f"unknown evaluation metric {metric!r} in {run.path}; available evaluation metrics: {names}")


def _healthy_rows(v: np.ndarray, diverged: np.ndarray) -> np.ndarray:
    return v[~diverged] if len(diverged) == v.shape[0] else v


def load_run(path: Path | str | RunFolder) -> Run:
    """Read a run folder's summary.json, metrics.npz and (when present) eval_curve.npz via run_record.

    Diverged seeds (`diverged_per_seed`) are dropped from the curves; `Run.diverged` says which they were."""
    folder = path if isinstance(path, RunFolder) else RunFolder(path)
    path = folder.path
    summary = folder.read_summary()
    metrics = folder.read_metrics()
    per_seed = {k.removesuffix("_per_seed"): np.asarray(v, dtype=np.float64)
                for k, v in metrics.items() if k.endswith("_per_seed")}
    if not metrics:
        raise FileNotFoundError(f"{folder.metrics_path} is missing; it is written by python -m experiments.train "
                                f"(the run is {summary.get('status', '?')})")
    if not per_seed:
        raise ValueError(f"{folder.metrics_path} holds no <metric>_per_seed arrays")
    per_seed = {k: v.reshape(1, -1) if v.ndim == 1 else v for k, v in per_seed.items()}
    seeds_in_curves, num_updates = next(iter(per_seed.values())).shape
    seeds = int(summary.get("seeds", seeds_in_curves))
    diverged = np.asarray(summary.get("diverged_per_seed") or [False] * seeds, bool)
    if len(diverged) != seeds_in_curves:  # a summary that does not describe these curves' seeds
        diverged = np.zeros(seeds_in_curves, bool)
    per_seed = {k: _healthy_rows(v, diverged) for k, v in per_seed.items()}
    cfg = summary.get("config", {})
    env_steps = int(summary.get("env_steps_per_seed", 0))
    if "num_envs" in cfg and "num_steps" in cfg:
        steps_per_update = float(cfg["num_envs"] * cfg["num_steps"])
    elif summary.get("env_steps_per_update"):
        steps_per_update = float(summary["env_steps_per_update"])
    elif env_steps:
        steps_per_update = env_steps / num_updates
    else:
        raise ValueError(f"{folder.summary_path}: neither config.num_envs/num_steps nor env_steps_per_seed")
    curve = folder.read_eval_curve()
    eval_updates = np.asarray(curve["update"], np.int64) if "update" in curve else None
    eval_per_seed = {k.removesuffix("_per_seed"): _healthy_rows(np.asarray(v, np.float64).T, diverged)
                     for k, v in curve.items() if k.endswith("_per_seed")}  # (K, S) -> (healthy seeds, K)
    return Run(path=path, env=str(summary.get("env", "?")), algo=str(summary.get("algo", "?")),
               seeds=len(diverged), env_steps_per_seed=env_steps or int(round(steps_per_update * num_updates)),
               steps_per_update=steps_per_update, per_seed=per_seed, diverged=diverged,
               status=str(summary.get("status", "finished")), eval_updates=eval_updates,
               eval_per_seed=eval_per_seed)


def load_runs(paths: Sequence[Path | str], warn=warn) -> list[Run]:
    """The runs among `paths` (`run_record.find_runs`) that have curves to show.

    Folders without a (readable) summary, runs without metrics.npz yet and runs whose every seed diverged are skipped
    with a warning; FileNotFoundError when nothing is left."""
    runs = []
    for folder in find_runs(paths, warn=warn):
        try:
            run = load_run(folder)
        except (FileNotFoundError, RunFolderError) as err:
            warn(f"skipping {folder.path}: {err}")
            continue
        if run.healthy_seeds == 0:
            warn(f"skipping {folder.path}: every seed diverged ({run.seeds} of {run.seeds}; status {run.status})")
            continue
        runs.append(run)
    if not runs:
        raise FileNotFoundError(f"{', '.join(map(str, paths))}: no run to plot (no summary.json there nor in the "
                                "sub-folders, or no curves yet; see the warnings above); pass the --out folder of "
                                "python -m experiments.train, or a folder of such folders")
    return runs


# ----- masking, smoothing, intervals ----------------------------------------------------------------------

def is_episode_metric(name: str) -> bool:
    """Episode statistics are averaged over the episodes that finished in an update (0 when none did)."""
    return name.startswith("episode_")


def masked_values(run: Run, metric: str, fill: Fill = "carry") -> np.ndarray:
    """(seeds, num_updates) values of `metric`, updates without a finished episode masked (module docstring).

    `eval/<name>`: the (healthy seeds, evaluations) values of eval_curve.npz, never masked.
    Raises ValueError listing the available metrics when `metric` is not in the run.
    """
    if is_eval_metric(metric):
        return run.eval_per_seed[eval_name(run, metric)].copy()
    if metric not in run.per_seed:
        names = ", ".join(sorted(run.per_seed))
        evals = (f"; evaluation curves: {', '.join(EVAL_PREFIX + k for k in sorted(run.eval_per_seed))}"
                 if run.eval_per_seed else "")
        raise ValueError(f"unknown metric {metric!r} in {run.path}; available metrics: {names}{evals}")
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
    per_seed: np.ndarray  # each healthy seed's average over the window (NaN for seeds left out)
    total_seeds: int = 0  # all seeds of the run, diverged ones included (0: not known)
    diverged: int = 0  # seeds left out because they diverged in training

    @property
    def seeds_text(self) -> str:
        """The table's seeds cell: '3', or '3 of 4 (1 diverged)' when diverged seeds were left out."""
        if not self.diverged:
            return str(self.seeds)
        return f"{self.seeds} of {self.total_seeds} ({self.diverged} diverged)"


def final_value(run: Run, metric: str, label: str, fill: Fill = "carry", last_fraction: float = 0.1,
                resamples: int = 2000) -> FinalValue:
    """Mean over healthy seeds of each seed's mean over the last `last_fraction` of updates (masked, unsmoothed);
    for `eval/` metrics, of the evaluations. Diverged seeds are not in `run` and are counted in `diverged`."""
    values = masked_values(run, metric, fill)
    k = max(1, math.ceil(last_fraction * values.shape[1]))
    window = values[:, -k:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # seeds with nothing observed in the window
        per_seed = np.nanmean(window, axis=1)
    est = stats.interval(per_seed, "mean", reps=resamples)
    mean, low, high = est.point, est.low, est.high
    return FinalValue(label=label, env=run.env, algo=run.algo, metric=metric,
                      seeds=int(np.sum(~np.isnan(per_seed))), last_updates=k, mean=float(mean),
                      ci_low=float(low), ci_high=float(high), per_seed=per_seed, total_seeds=run.seeds,
                      diverged=run.num_diverged)


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


def eval_kind(algos) -> str:
    """How the plotted greedy evaluations act: decentralised, except algorithms the registry marks as executing
    centrally (MAT, AR-MAPPO), which the label names."""
    from agentmixer_jax import registry

    central = sorted({a for a in algos if registry.executes_centrally(a)})
    if not central:
        return "decentralised greedy evaluation"
    return f"greedy evaluation, decentralised except {', '.join(central)}: centralised execution"


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

    runs = load_runs(run_dirs)
    for run in runs:  # fail on a bad metric before drawing anything
        masked_values(run, metric, fill)
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs ({', '.join(str(r.path) for r in runs)})")
    several_envs = len({r.env for r in runs}) > 1
    given_labels = labels is not None  # the user's labels name the series (colours); otherwise the algo does
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
    def series(r, lab):
        return r.algo if panels_by == "env" and not given_labels else lab

    series_keys = list(dict.fromkeys(series(r, lab) for r, lab in zip(runs, labels)))
    colors = plt.get_cmap("tab10" if len(series_keys) <= 10 else "tab20")
    ncols = len(panel_keys)
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols if ncols > 1 else 7.0, 4.3), squeeze=False,
                             sharey=False)
    axes = axes[0]
    for ax, key in zip(axes, panel_keys):
        panel_runs = [(r, lab) for r, lab in zip(runs, labels) if panels_by == "none" or getattr(r, panels_by) == key]
        for r, lab in panel_runs:
            values = smooth(masked_values(r, metric, fill), smooth_window)
            mean, low, high = stats.curve_interval(values, reps=resamples)
            color = colors(series_keys.index(series(r, lab)) % colors.N)
            x = r.x_for(metric)
            ax.plot(x, mean, color=color, label=lab, lw=1.6, marker="o" if is_eval_metric(metric) else None,
                    ms=3)
            ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)
        for i, (value, text) in enumerate(hl):
            ax.axhline(value, color="0.3", ls=("--", ":", "-.")[i % 3], lw=1.0, label=text or None)
        ax.set_xlabel("env steps per seed")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.grid(alpha=0.3)
        if panels_by != "none":
            ax.set_title(f"{key}: {_title([r for r, _ in panel_runs]).split(': ', 1)[1]}", fontsize=9)
        ax.legend(fontsize=8, frameon=False)
    unit = "evaluations" if is_eval_metric(metric) else "updates"
    ylabel = (f"{metric} ({eval_kind(r.algo for r in runs)})" if is_eval_metric(metric) else metric)
    axes[0].set_ylabel(ylabel + (f" (moving average of {smooth_window} {unit})" if smooth_window > 1 else ""))
    band = "mean over seeds, 95% bootstrap CI" + ("" if is_eval_metric(metric) else f"; fill={fill}")
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
    """Plain-text final-value table: mean over seeds [95% bootstrap CI] of the last updates (or evaluations).

    The seeds column counts the seeds averaged, and the diverged seeds left out: '3 of 4 (1 diverged)'."""
    if not rows:
        return ""
    last = "last evaluations" if is_eval_metric(rows[0].metric) else "last updates"
    head = ("run", "env", "seeds", last, f"final {rows[0].metric}", "95% CI")
    body = [(r.label, r.env, r.seeds_text, str(r.last_updates), f"{r.mean:.3f}",
             f"[{r.ci_low:.3f}, {r.ci_high:.3f}]" if np.isfinite(r.ci_low) else "n/a (one seed)") for r in rows]
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
    """Metric of metrics.npz to plot, e.g. episode_return, episode_won, episode_success, entropy; or eval/<name>
    for the greedy evaluation curve of eval_curve.npz (runs trained with --eval-every), e.g. eval/return, eval/won."""
    smooth: int = 1
    """Trailing moving-average window in updates (evaluations for eval/ metrics), per seed before the seed mean
    (1 = none)."""
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
