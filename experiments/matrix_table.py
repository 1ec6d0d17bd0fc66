"""Summarise matrix-game runs into the RESULTS.md table.

    python -m experiments.matrix_table runs/matrix/*/summary.json
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95% interval of a rate k / n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main(paths: list[str]) -> None:
    print("| env | algo | seeds | env steps / seed | optimal greedy joint action (95% CI) | mean greedy return | "
          "mean CE epsilon | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for path in paths:
        s = json.load(open(path))
        opt = np.asarray(s["eval"]["optimal_per_seed"]) > 0.5
        lo, hi = wilson(int(opt.sum()), len(opt))
        ret = np.asarray(s["eval"]["return_per_seed"])
        eps = np.asarray(s["eval"]["ce_epsilon_per_seed"])
        print(f"| {s['env']} | {s['algo']} | {s['seeds']} | {s['env_steps_per_seed']:,} | {opt.mean():.3f} "
              f"[{lo:.3f}, {hi:.3f}] | {ret.mean():.2f} | {eps.mean():.2f} | {s['wall_seconds']:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
