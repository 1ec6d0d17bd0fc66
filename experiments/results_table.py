"""One RESULTS.md row per training run: decentralised evaluation, greedy and sampled, beside the training return.

    python -m experiments.results_table runs/pp1m/*
    python -m experiments.results_table runs/pp1m --metrics return captured miscoordinations length
    python -m experiments.results_table runs/lbf/* --compare lbf_agentmixer lbf_mappo   # + P(A > B) with its CI

Each argument is a folder written by `python -m experiments.train`, read through `agentmixer_jax.run_record`
(a folder without `summary.json` stands for its sub-folders that have one: `run_record.find_runs`). Folders
without a summary (an empty folder, a run that died before writing one) are skipped with a warning on
stderr, and so are runs whose status is `running` (no final evaluation yet) or `failed` (the warning gives
the error). `interrupted` and `diverged` runs are shown: then a `status` column says e.g.
`interrupted (12/20 updates)` (only when some run is not `finished`); they have no final evaluation, so their
greedy cells are `n/a`. Per run, in a markdown table:

- the run folder's name, env, algo, seeds, env steps per seed (done so far);
- for each evaluation metric (`--metrics`; default: the union of the runs' `<metric>_per_seed` lists of
  `summary.json`'s `eval`, in first-seen order; `n/a` where a run lacks one), the mean over seeds of the
  greedy decentralised evaluation with its 95% stratified-bootstrap interval, `mean [low, high]`
  (`agentmixer_jax.stats`, rliable), and for `return` its IQM (interquartile mean) the same way;
- `sampled <metric>`: the same statistic when the individual policies *sample* their actions instead of
  taking their modes, read from the folder's `playback.json` (written by `python -m experiments.playback`);
  `n/a` where the folder has none; `--playback-greedy` adds statistics of playback's greedy execution
  that the final evaluation does not have, such as `reward_per_step`;
- `training return`: the mean over healthy seeds of each seed's `episode_return` over the last 10% of
  updates, with its percentile-bootstrap 95% interval (`experiments.plot_curves.final_value`): the
  stochastic training-time (joint, for AgentMixer) policy;
- `env steps/s`: the run's training throughput as `summary.json` recorded it.

`--pool` shows runs made with the same command except the base seed (`--seed`) as one row, their seeds pooled
(e.g. two runs of `--seeds 32`, `--seed 0` and `--seed 1`, as one row of 64 independent seeds): the row is named
after the first run with `+K` for the K others; every statistic is over the pooled seeds; `env steps/s` is the
runs' mean; sampled playback cells are `n/a` unless there is only one run. Two runs of the same command with the
same base seed are the same seeds twice and are refused.

Diverged and non-finite seeds. A seed whose parameters or losses went non-finite in training is marked in
`diverged_per_seed` and its `eval` entries are null. No seed is dropped silently: the `seeds` cell counts
all seeds and says how many diverged, e.g. `64 (3 diverged)`, and how many other seeds have a null or NaN
entry in a shown evaluation metric, e.g. `64 (2 non-finite)`. Means and intervals are over the healthy
seeds (neither diverged nor non-finite in that metric), except for the success metrics of SUCCESS_METRICS
(`optimal`, `success_rate`, `win_rate`, `captured`, also with a prefix such as AIL's `expert_`). A diverged or
non-finite seed never counts as a success: in the success columns it counts as 0 and the mean is the fraction
over ALL seeds, so with 3 of 64 seeds diverged a column where every healthy seed succeeds reads 0.953, not 1.000.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tyro

from agentmixer_jax import stats
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.registry import table_name
from agentmixer_jax.run_record import RunFolder, RunFolderError, find_runs
from experiments.plot_curves import final_value, load_run

# Evaluation metrics that score success per seed (higher is better, 1 = success): a diverged or non-finite seed
# counts as a failure (0) in them.
SUCCESS_METRICS = ("optimal", "success_rate", "win_rate", "captured")
SHOWN_STATUSES = ("finished", "interrupted", "diverged")


@dataclasses.dataclass
class Args:
    """Print a markdown table of training runs: greedy and sampled decentralised evaluation, training return."""

    runs: tyro.conf.Positional[tuple[Path, ...]]
    """Run folders (or folders of run folders) written by python -m experiments.train."""
    metrics: tuple[str, ...] = ()
    """Evaluation metrics to show (names without _per_seed); empty: every metric of any run."""
    sampled: tuple[str, ...] = ("return",)
    """Statistics to show from playback.json's sampled execution (when present)."""
    playback_greedy: tuple[str, ...] = ()
    """Statistics to show from playback.json's greedy execution, e.g. reward_per_step (when present)."""
    pool: bool = False
    """Show runs that differ only in their base seed (--seed) as one row with their seeds pooled."""
    compare: tuple[str, ...] = ()
    """Two run folder names A B: also print the probability of improvement P(A > B) of a seed of A over a seed of
    B on the first metric (rliable, with its 95% bootstrap CI); with --pool, a name stands for its row's seeds."""


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def mean_ci(values: Sequence[float], stat: str = "mean") -> str:
    """'point [low, high]': `stat` (mean or iqm) over seeds with its 95% stratified-bootstrap interval
    (agentmixer_jax.stats, rliable); NaN entries dropped; 'n/a' when empty."""
    v = np.asarray([np.nan if x is None else x for x in values], dtype=np.float64)
    return stats.interval(v, stat).format()


def eval_metrics(summary: dict) -> list[str]:
    """The evaluation metrics of a summary, in its order (names without _per_seed)."""
    return [k.removesuffix("_per_seed") for k in summary.get("eval", {}) if k.endswith("_per_seed")]


def is_success_metric(name: str) -> bool:
    """A success score (SUCCESS_METRICS, possibly prefixed, e.g. `expert_success_rate`)."""
    return any(name == m or name.endswith("_" + m) for m in SUCCESS_METRICS)


def eval_cell(values: Sequence[float | None], diverged: np.ndarray, name: str, stat: str = "mean") -> str:
    """One greedy evaluation cell: healthy seeds' `stat` [95% CI], or for success metrics the mean over all seeds
    with diverged and non-finite seeds counted as 0."""
    v = np.asarray([np.nan if x is None else x for x in values], np.float64)
    bad = diverged if len(diverged) == len(v) else np.zeros(len(v), bool)
    if is_success_metric(name):
        return mean_ci(np.where(bad | ~np.isfinite(v), 0.0, v))
    return mean_ci(v[~bad], stat)


def seeds_cell(summary: dict, metrics: Sequence[str]) -> str:
    """'64', '64 (3 diverged)', '64 (2 non-finite)' or '64 (3 diverged, 2 non-finite)'."""
    seeds = int(summary["seeds"])
    diverged = np.asarray(summary.get("diverged_per_seed") or [False] * seeds, bool)
    ev = summary.get("eval", {})
    non_finite = np.zeros(len(diverged), bool)
    for m in metrics:
        if f"{m}_per_seed" in ev:
            v = np.asarray([np.nan if x is None else x for x in ev[f"{m}_per_seed"]], np.float64)
            if len(v) == len(diverged):
                non_finite |= ~np.isfinite(v)
    notes = []
    if diverged.any():
        notes.append(f"{int(diverged.sum())} diverged")
    if (non_finite & ~diverged).any():
        notes.append(f"{int((non_finite & ~diverged).sum())} non-finite")
    return f"{seeds} ({', '.join(notes)})" if notes else str(seeds)


def training_return(*folders: RunFolder) -> str:
    """Mean [95% bootstrap CI] over healthy seeds (of all `folders`, pooled) of each seed's episode_return over the
    last 10% of updates; 'n/a' unless every folder has that curve."""
    per_seed = []
    for folder in folders:
        try:
            run = load_run(folder)
        except (FileNotFoundError, ValueError):  # no metrics.npz (yet), or no curves in it
            return "n/a"
        if "episode_return" not in run.per_seed or run.healthy_seeds == 0:
            return "n/a"
        per_seed.append(final_value(run, "episode_return", label=str(folder.path)).per_seed)
    est = stats.interval(np.concatenate(per_seed), "mean", reps=2000)  # final_value's own interval, pooled
    if not np.isfinite(est.point):
        return "n/a"
    return f"{est.point:.3f} [{est.low:.3f}, {est.high:.3f}]"


def run_row(folder: RunFolder | Path | str, metrics: Sequence[str], sampled: Sequence[str],
            playback_greedy: Sequence[str] = (), show_status: bool = False, summary: dict | None = None,
            pooled: Sequence[RunFolder] = ()) -> dict[str, str]:
    """The table cells of one run folder: column name -> text (`n/a` for a metric the run does not have).

    `pooled`: the other runs whose seeds `summary` pools (`pool_runs`); the row is named `folder +K`."""
    folder = folder if isinstance(folder, RunFolder) else RunFolder(folder)
    summary = folder.read_summary() if summary is None else summary
    ev = summary.get("eval", {})
    seeds = int(summary["seeds"])
    diverged = np.asarray(summary.get("diverged_per_seed") or [False] * seeds, bool)
    name = folder.path.name + (f" +{len(pooled)}" if pooled else "")
    row = {"run": name, "env": summary["env"], "algo": table_name(summary["algo"])}
    if show_status:
        status = summary["status"]
        if status != "finished" and "updates_done" in summary and "num_updates" in summary:
            status += f" ({summary['updates_done']}/{summary['num_updates']} updates)"
        row["status"] = status
    row["seeds"] = seeds_cell(summary, metrics)
    row["env steps / seed"] = f"{summary['env_steps_per_seed']:,}" if "env_steps_per_seed" in summary else "n/a"
    for m in metrics:
        row[f"greedy {m}"] = eval_cell(ev[f"{m}_per_seed"], diverged, m) if f"{m}_per_seed" in ev else "n/a"
        if m == "return":  # the IQM beside the mean (Agarwal et al. 2021)
            row["greedy return IQM"] = (eval_cell(ev[f"{m}_per_seed"], diverged, m, "iqm") if f"{m}_per_seed" in ev
                                        else "n/a")
    pb = json.loads(folder.playback_path.read_text()) if folder.playback_path.is_file() and not pooled else {}
    for mode, names in (("greedy", playback_greedy), ("sampled", sampled)):
        recorded = pb.get(mode, {})
        row.update({f"{mode} {m}": mean_ci(recorded[m]) if m in recorded else "n/a" for m in names})
    row["training return"] = training_return(folder, *pooled)
    row["env steps/s"] = f"{summary['steps_per_second']:,.0f}" if "steps_per_second" in summary else "n/a"
    return row


def format_markdown(rows: Sequence[dict[str, str]]) -> str:
    columns = list(dict.fromkeys(c for r in rows for c in r))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r.get(c, "n/a") for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def shown_runs(paths: Sequence[Path | str], warn=warn) -> list[tuple[RunFolder, dict]]:
    """(folder, summary) of the runs to show; the others are skipped with a warning (module docstring)."""
    out = []
    for folder in find_runs(paths, warn=warn):
        try:
            summary = folder.read_summary()
        except RunFolderError as err:
            warn(f"skipping {folder.path}: {err}")
            continue
        status = summary.get("status", "finished")
        if status == "running":
            warn(f"skipping {folder.path}: status running ({summary.get('updates_done', '?')}/"
                 f"{summary.get('num_updates', '?')} updates; still training, or killed without recording its end: "
                 f"python -m experiments.train --resume {folder.path} continues it from its last checkpoint)")
        elif status == "failed":
            warn(f"skipping {folder.path}: status failed ({summary.get('error', 'no error recorded')})")
        elif status not in SHOWN_STATUSES:
            warn(f"skipping {folder.path}: unknown status {status!r}")
        else:
            out.append((folder, summary))
    return out


# summary.json fields that must agree for runs to be pooled: the same command but for the base seed
POOL_KEYS = ("env", "env_kw", "algo", "config", "hparams", "env_steps_per_seed", "status")


def pool_runs(runs: Sequence[tuple[RunFolder, dict]]) -> list[tuple[RunFolder, dict, list[RunFolder]]]:
    """Group runs that differ only in their base seed: (first folder, pooled summary, the other folders), in
    first-seen order. The pooled summary concatenates the per-seed evaluations and `diverged_per_seed` and sums
    `seeds`; a metric missing from any run of a group is left out. Raises ValueError on a repeated base seed."""
    # a field that an older run's summary lacks (added since) counts as its default
    defaults = {"config": dataclasses.asdict(TrainConfig()), "hparams": dataclasses.asdict(HParams())}
    groups: dict[str, list[tuple[RunFolder, dict]]] = {}
    for folder, summary in runs:
        fields = [{**defaults[k], **summary[k]} if k in defaults and isinstance(summary.get(k), dict)
                  else summary.get(k) for k in POOL_KEYS]
        key = json.dumps(fields, sort_keys=True, default=str)
        groups.setdefault(key, []).append((folder, summary))
    out = []
    for members in groups.values():
        first, summary = members[0]
        if len(members) == 1:
            out.append((first, summary, []))
            continue
        seeds_by_base: dict[int, str] = {}
        for folder, s in members:
            base = int(s.get("seed", 0))
            if base in seeds_by_base:
                raise ValueError(f"--pool: {seeds_by_base[base]} and {folder.path} are the same command with the same "
                                 f"base seed {base}, i.e. the same seeds twice; pool runs of different --seed only")
            seeds_by_base[base] = str(folder.path)
        pooled = dict(summary)
        pooled["seeds"] = sum(int(s["seeds"]) for _, s in members)
        pooled["diverged_per_seed"] = [bool(d) for _, s in members
                                       for d in (s.get("diverged_per_seed") or [False] * int(s["seeds"]))]
        keys = [k for k in summary.get("eval", {}) if k.endswith("_per_seed")
                and all(k in s.get("eval", {}) for _, s in members)]
        pooled["eval"] = {k: [x for _, s in members for x in s["eval"][k]] for k in keys}
        rates = [s["steps_per_second"] for _, s in members if "steps_per_second" in s]
        if len(rates) == len(members):
            pooled["steps_per_second"] = float(np.mean(rates))
        out.append((first, pooled, [f for f, _ in members[1:]]))
    return out


def main(argv: list[str] | None = None) -> list[dict[str, str]]:
    args = tyro.cli(Args, args=argv)
    runs = shown_runs(args.runs)
    if not runs:
        raise ValueError(f"no run to show among {', '.join(map(str, args.runs))} (see the warnings above)")
    known = list(dict.fromkeys(m for _, s in runs for m in eval_metrics(s)))
    metrics = args.metrics or tuple(known)
    missing = [m for m in metrics if m not in known]
    if missing:
        raise ValueError(f"no eval metric {missing} in the summary.json of any run; they have: "
                         f"{', '.join(sorted(known)) or 'none'}")
    show_status = any(s["status"] != "finished" for _, s in runs)
    grouped = pool_runs(runs) if args.pool else [(f, s, []) for f, s in runs]
    rows = [run_row(f, metrics, args.sampled, args.playback_greedy, show_status, summary=s, pooled=more)
            for f, s, more in grouped]
    print(format_markdown(rows))
    if args.compare:
        print(compare([(f, s) for f, s, _ in grouped], args.compare, metrics[0]))
    return rows


def _healthy(summary: dict, metric: str) -> np.ndarray:
    v = np.asarray([np.nan if x is None else x for x in summary["eval"].get(f"{metric}_per_seed", [])], np.float64)
    diverged = np.asarray(summary.get("diverged_per_seed") or [False] * len(v), bool)
    return np.where(diverged, np.nan, v) if len(diverged) == len(v) else v


def compare(runs: Sequence[tuple[RunFolder, dict]], names: Sequence[str], metric: str) -> str:
    """'P(A > B) on greedy <metric>: p [low, high] (n_A vs n_B seeds)' for the run folders named A and B."""
    if len(names) != 2:
        raise ValueError(f"--compare takes two run folder names, got {len(names)}: {' '.join(names)}")
    by_name = {f.path.name: s for f, s in runs}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"--compare {' '.join(missing)}: no such run among {', '.join(by_name)}")
    a, b = (_healthy(by_name[n], metric) for n in names)
    est = stats.probability_of_improvement(a, b)
    return (f"P({names[0]} > {names[1]}) on greedy {metric}: {est.format()} "
            f"({int(np.isfinite(a).sum())} vs {int(np.isfinite(b).sum())} seeds)")


def cli(argv: list[str] | None = None) -> None:
    try:
        main(argv)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err


if __name__ == "__main__":
    cli()
