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
Writes OUT/playback.json.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import tyro

from agentmixer_jax.checkpoint import load_run
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
    run = load_run(args.run)
    key = jax.random.PRNGKey(args.seed)
    result = {}
    for mode in ("greedy", "sampled"):
        per_seed: dict[str, list] = {}
        for i in range(run.num_seeds):
            t = run.rollout(i, args.steps, args.envs, sample=mode == "sampled", key=jax.random.fold_in(key, i))
            stats = episode_stats(t)
            for k, v in stats.items():
                per_seed.setdefault(k, []).append(float(np.nanmean(v)) if np.isfinite(v).any() else float("nan"))
            per_seed.setdefault("reward_per_step", []).append(reward_per_step(t))
        result[mode] = per_seed
    summary = {"run": str(args.run), "steps": args.steps, "envs": args.envs, "seed": args.seed, **result}
    (args.run / "playback.json").write_text(json.dumps(summary, indent=1))

    print(f"{run.summary['algo']} on {run.summary['env']}, {run.num_seeds} seeds x {args.envs} envs x "
          f"{args.steps} steps; per-seed means, 95% CI over seeds")
    print("| statistic | greedy | sampled |\n|---|---|---|")
    for k in result["greedy"]:
        print(f"| {k} | {mean_ci(result['greedy'][k])} | {mean_ci(result['sampled'][k])} |")
    return summary


if __name__ == "__main__":
    main()
