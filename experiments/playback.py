"""Greedy against sampled decentralised execution of a saved run, seed by seed.

    python -m experiments.playback runs/pp1m/p15_ippo --steps 1000 --envs 32

Loads OUT/params (written by `experiments.train`), plays every seed's individual policies for `steps`
steps in `envs` environments twice, with their mode actions (as the final evaluation does) and with
actions sampled from them, and prints the per-seed mean (95% CI over seeds) of each episode statistic
over the episodes that finished: return, length and the env's info scalars at the episode's end.

On tasks that count penalties in a running `miscoordinations` info (predator-prey) it adds the longest
run of consecutive penalised steps per episode, and the share of penalties paid in runs of 5 or more
steps: a greedy predator left alone beside a cornered prey repeats the same move and pays on every step.

`reward_per_step` is the team reward summed over every step of the window (finished episodes and the
unfinished tail alike, envs resetting as they finish) divided by the number of steps: the evaluation
figure of the AgentMixer authors' predator-prey runner (LiZhYun/BackPropagationThroughAgents,
bta/runner/mappo/predator_runner.py, `eval`: rewards summed over `episode_length` steps of auto-resetting
envs, divided by `episode_length`), so our runs can be set beside their published numbers.

Seeds that diverged in training (`diverged_per_seed` in summary.json: their parameters are not a policy) are
not played: a note names them, their entries in OUT/playback.json are null, and playback.json records
`diverged_per_seed`; the means and intervals are over the other seeds. playback.json is strict JSON: a
statistic a played seed has no value for (no episode finished in the window) is null too. The run folder
is read and written through `agentmixer_jax.run_record` (summary via `RunFolder.read_summary`,
`RunFolder.playback_path`). Writes OUT/playback.json.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import tyro

from agentmixer_jax.checkpoint import load_run
from agentmixer_jax.run_record import RunFolder, strict_json
from experiments.results_table import mean_ci

STREAK = 5  # penalties in runs at least this long count as "stuck"


def episode_stats(t: dict) -> dict:
    """Per-episode statistics of a rollout from `Run.rollout`: {name: (episodes,) array}, finished episodes only."""
    done = t["info"]["episode_done"]  # (T, E)
    team = t["reward"][..., 0]  # (T, E): the team reward (every agent gets the same)
    out = {"return": [], "length": []}
    extra = [k for k in t["info"] if k != "episode_done"]
    out.update({k: [] for k in extra})
    counted = "miscoordinations" in t["info"]
    if counted:
        out.update({"longest_penalty_streak": [], f"penalties_in_streaks_ge{STREAK}": []})
    for e in range(done.shape[1]):
        start = 0
        for end in np.flatnonzero(done[:, e]):
            out["return"].append(team[start:end + 1, e].sum())
            out["length"].append(end + 1 - start)
            for k in extra:
                out[k].append(float(t["info"][k][end, e]))
            if counted:
                total = t["info"]["miscoordinations"][start:end + 1, e].astype(np.int64)
                per_step = np.diff(total, prepend=0)  # the running total restarts at 0 every episode
                streaks = _runs(per_step > 0)
                out["longest_penalty_streak"].append(max(streaks, default=0))
                paid = per_step.sum()
                long = sum(per_step[s:s + n].sum() for s, n in _run_spans(per_step > 0) if n >= STREAK)
                out[f"penalties_in_streaks_ge{STREAK}"].append(long / paid if paid else np.nan)
            start = end + 1
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def reward_per_step(t: dict) -> float:
    """Team reward per env step over the whole rollout window of `Run.rollout` (the authors' eval figure)."""
    return float(np.mean(t["reward"][..., 0]))


def _run_spans(flags: np.ndarray) -> list[tuple[int, int]]:
    """[(start, length)] of the runs of True in a 1-D boolean array."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(s), int(e - s)) for s, e in zip(edges[::2], edges[1::2])]


def _runs(flags: np.ndarray) -> list[int]:
    return [n for _, n in _run_spans(flags)]


@dataclasses.dataclass
class Args:
    """Play a saved run's decentralised policies, greedy and sampled, and compare their episode statistics."""

    run: tyro.conf.Positional[Path]
    """An experiments.train output folder with params/ (trained without --no-checkpoint)."""
    steps: int = 1000
    """Steps per environment and seed."""
    envs: int = 32
    """Parallel environments per seed."""
    seed: int = 0
    """PRNG seed of the playback (resets and sampled actions)."""


def main(argv: list[str] | None = None) -> dict:
    import jax

    args = tyro.cli(Args, args=argv)
    folder = RunFolder(args.run)
    run = load_run(folder.path)  # reads the summary through RunFolder.read_summary (schema upgrades included)
    diverged = np.asarray(run.diverged, bool)
    if diverged.all():
        print(f"error: every seed of {folder.path} diverged in training ({run.num_seeds} of {run.num_seeds}, "
              "diverged_per_seed in summary.json): there is no policy to play", file=sys.stderr)
        raise SystemExit(2)
    key = jax.random.PRNGKey(args.seed)
    result = {}
    for mode in ("greedy", "sampled"):
        per_seed: dict[str, dict[int, float]] = {}  # statistic -> {seed: per-seed mean}
        for i in range(run.num_seeds):
            if diverged[i]:
                continue
            t = run.rollout(i, args.steps, args.envs, sample=mode == "sampled", key=jax.random.fold_in(key, i))
            stats = episode_stats(t)
            for k, v in stats.items():
                per_seed.setdefault(k, {})[i] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            per_seed.setdefault("reward_per_step", {})[i] = reward_per_step(t)
        # one entry per seed, in seed order; None (null in playback.json) for the diverged seeds
        result[mode] = {k: [v.get(i) for i in range(run.num_seeds)] for k, v in per_seed.items()}
    # strict JSON: NaN (a seed that finished no episode) is written null, as are the diverged seeds
    summary = strict_json({"run": str(args.run), "steps": args.steps, "envs": args.envs, "seed": args.seed,
                           "diverged_per_seed": diverged.tolist(), **result})
    folder.playback_path.write_text(json.dumps(summary, indent=1, allow_nan=False))

    print(f"{run.summary['algo']} on {run.summary['env']}, {run.num_seeds} seeds x {args.envs} envs x "
          f"{args.steps} steps; per-seed means, 95% CI over seeds")
    if diverged.any():
        print(f"note: {int(diverged.sum())} of {run.num_seeds} seeds diverged in training and were not played "
              f"(seeds {', '.join(map(str, np.flatnonzero(diverged)))}; null in playback.json); the statistics are "
              f"over the other {int((~diverged).sum())}")
    print("| statistic | greedy | sampled |\n|---|---|---|")
    for k in result["greedy"]:
        print(f"| {k} | {mean_ci(result['greedy'][k])} | {mean_ci(result['sampled'][k])} |")
    return summary


if __name__ == "__main__":
    main()
