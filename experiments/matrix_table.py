"""Summarise matrix-game runs into the RESULTS.md table.

    python -m experiments.matrix_table runs/matrix/*      (run folders, or their summary.json files)

Diverged seeds count as not optimal and are left out of the mean return and CE epsilon (the seeds cell says how
many).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from agentmixer_jax.registry import table_name
from agentmixer_jax.run_record import SUMMARY, find_runs
from agentmixer_jax.stats import wilson


def main(paths: list[str]) -> None:
    print("| env | algo | seeds | env steps / seed | optimal greedy joint action (95% CI) | mean greedy return | "
          "mean CE epsilon | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    runs = find_runs([Path(p).parent if p.endswith(SUMMARY) else p for p in paths],
                     warn=lambda msg: print(f"warning: {msg}", file=sys.stderr))
    for run in runs:
        s = run.read_summary()
        if s["status"] != "finished":
            print(f"warning: skipping {run.path}: the run is {s['status']}", file=sys.stderr)
            continue
        if "optimal_per_seed" not in s["eval"]:
            print(f"warning: skipping {run.path}: {s['env']} is not a matrix game (no optimal_per_seed)",
                  file=sys.stderr)
            continue
        ev = {k: np.asarray([np.nan if x is None else x for x in v], np.float64) for k, v in s["eval"].items()}
        healthy = np.isfinite(ev["return_per_seed"]) & ~np.asarray(s["diverged_per_seed"], bool)
        opt = np.where(healthy, ev["optimal_per_seed"], 0.0) > 0.5  # a diverged seed is never optimal
        lo, hi = wilson(int(opt.sum()), len(opt))
        ret, eps = ev["return_per_seed"][healthy], ev["ce_epsilon_per_seed"][healthy]
        seeds = f"{s['seeds']}" + (f" ({int((~healthy).sum())} diverged)" if (~healthy).any() else "")
        print(f"| {s['env']} | {table_name(s['algo'])} | {seeds} | {s['env_steps_per_seed']:,} | {opt.mean():.3f} "
              f"[{lo:.3f}, {hi:.3f}] | {ret.mean():.2f} | {eps.mean():.2f} | {s['wall_seconds']:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
