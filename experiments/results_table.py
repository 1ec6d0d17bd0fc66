"""One RESULTS.md row per training run: decentralised evaluation, greedy and sampled, beside the training return.

    python -m experiments.results_table runs/pp1m/*
    python -m experiments.results_table runs/pp1m --metrics return captured miscoordinations length

Each argument is a folder written by `python -m experiments.train` (a folder without `summary.json` stands
for its sub-folders that have one). Per run, in a markdown table:

- the run folder's name, env, algo, seeds, env steps per seed;
- for each evaluation metric (`--metrics`; default: every `<metric>_per_seed` list of `summary.json`'s
  `eval`), the mean over seeds of the greedy decentralised evaluation with the half-width of a normal 95%
  interval over seeds, written `mean ± half`;
- `sampled <metric>`: the same statistic when the individual policies *sample* their actions instead of
  taking their modes, read from the folder's `playback.json` (written by `python -m experiments.playback`);
  `n/a` where the folder has none; `--playback-greedy` adds statistics of playback's greedy execution
  that the final evaluation does not have, such as `reward_per_step`;
- `training return`: the mean over seeds of each seed's `episode_return` over the last 10% of updates,
  with its percentile-bootstrap 95% interval (`experiments.plot_curves.final_value`): the stochastic
  training-time (joint, for AgentMixer) policy;
- `env steps/s`: the run's training throughput as `summary.json` recorded it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tyro

from experiments.plot_curves import expand_run_dirs, final_value, load_run
from experiments.train import ci95


@dataclasses.dataclass
class Args:
    """Print a markdown table of finished runs: greedy and sampled decentralised evaluation, training return."""

    runs: tyro.conf.Positional[tuple[Path, ...]]
    """Run folders (or folders of run folders) written by python -m experiments.train."""
    metrics: tuple[str, ...] = ()
    """Evaluation metrics to show (names without _per_seed); empty: all of the first run's."""
    sampled: tuple[str, ...] = ("return",)
    """Statistics to show from playback.json's sampled execution (when present)."""
    playback_greedy: tuple[str, ...] = ()
    """Statistics to show from playback.json's greedy execution, e.g. reward_per_step (when present)."""


def mean_ci(values: Sequence[float]) -> str:
    """'mean ± half-width' of a normal 95% interval over seeds (NaN entries dropped); 'n/a' when empty."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return "n/a"
    return f"{v.mean():.3f} ± {ci95(v):.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def run_row(path: Path, metrics: Sequence[str], sampled: Sequence[str], playback_greedy: Sequence[str] = ()
            ) -> dict[str, str]:
    """The table cells of one run folder: column name -> text."""
    summary = json.loads((path / "summary.json").read_text())
    ev = summary["eval"]
    missing = [m for m in metrics if f"{m}_per_seed" not in ev]
    if missing:
        known = ", ".join(sorted(k.removesuffix("_per_seed") for k in ev if k.endswith("_per_seed")))
        raise ValueError(f"{path}: no eval metric {missing} in summary.json; it has: {known}")
    row = {"run": path.name, "env": summary["env"], "algo": summary["algo"], "seeds": str(summary["seeds"]),
           "env steps / seed": f"{summary['env_steps_per_seed']:,}"}
    row.update({f"greedy {m}": mean_ci(ev[f"{m}_per_seed"]) for m in metrics})
    playback = path / "playback.json"
    pb = json.loads(playback.read_text()) if playback.is_file() else {}
    for mode, names in (("greedy", playback_greedy), ("sampled", sampled)):
        stats = pb.get(mode, {})
        row.update({f"{mode} {m}": mean_ci(stats[m]) if m in stats else "n/a" for m in names})
    run = load_run(path)
    if "episode_return" in run.per_seed:
        fv = final_value(run, "episode_return", label=str(path))
        row["training return"] = f"{fv.mean:.3f} [{fv.ci_low:.3f}, {fv.ci_high:.3f}]"
    else:
        row["training return"] = "n/a"
    row["env steps/s"] = f"{summary['steps_per_second']:,.0f}" if "steps_per_second" in summary else "n/a"
    return row


def format_markdown(rows: Sequence[dict[str, str]]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r.get(c, "n/a") for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, str]]:
    args = tyro.cli(Args, args=argv)
    paths = expand_run_dirs(args.runs)
    metrics = args.metrics
    if not metrics:
        ev = json.loads((paths[0] / "summary.json").read_text())["eval"]
        metrics = tuple(k.removesuffix("_per_seed") for k in ev if k.endswith("_per_seed"))
    rows = [run_row(p, metrics, args.sampled, args.playback_greedy) for p in paths]
    print(format_markdown(rows))
    return rows


if __name__ == "__main__":
    main()
