"""Training throughput of every algorithm at the same batch, side by side in one process (BENCHMARKS.md).

    python -m experiments.bench_algos --tasks predator_prey_p1 protoss_5v5 --record

Each algorithm runs with the task's preset (`experiments/presets.py`, the algorithm's own defaults included, e.g.
HAPPO's per-agent actors, MAT's ValueNorm), the same rollout (envs x steps), epochs and minibatches, and the same
seeds. The runs are interleaved (`experiments.bench_networks.time_interleaved`); reported: the median env steps/s
over all seeds and its ratio to MAPPO's.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path

import tyro

from experiments.bench_networks import ROOT, task_sizes, time_interleaved

TABLE_SECTION = "## Algorithms: training throughput at the same batch"
TABLE_HEADER = ["date", "machine", "task", "algo", "seeds x envs x steps x updates", "env steps/s",
                "ratio to MAPPO", "command"]


@dataclasses.dataclass
class Args:
    tasks: tuple[str, ...] = ("predator_prey_p1", "protoss_5v5")
    # the first is the reference
    algos: tuple[str, ...] = ("mappo", "agentmixer", "happo", "mat", "mat_dec", "ar_mappo")
    seeds: int = 8
    updates: int = 0  # 0: 5 on grid / SMAX tasks, 2 on MaMuJoCo
    repeats: int = 3
    record: bool = False  # append the rows to BENCHMARKS.md
    json: Path | None = None


def main(argv: list[str] | None = None) -> list[dict]:
    args = tyro.cli(Args, args=argv)
    import envs
    from experiments.benchmarks_md import device_name
    from experiments.presets import env_kwargs, preset

    rows = []
    for task in args.tasks:
        updates, num_envs = task_sizes(task, args.updates)
        env = envs.make(task, **env_kwargs(task))
        setups = {}
        for algo in args.algos:
            cfg, hp = preset(task, algo)
            setups[algo] = (dataclasses.replace(cfg, num_envs=num_envs) if num_envs else cfg, hp)
        timed = time_interleaved(env, setups, args.seeds, updates, args.repeats, label=task)
        task_rows = []
        for algo, (times, cfg) in timed.items():
            steps = args.seeds * cfg.num_updates * cfg.batch_size
            task_rows.append({"task": task, "algo": algo, "seeds": args.seeds, "num_envs": cfg.num_envs,
                              "num_steps": cfg.num_steps, "updates": cfg.num_updates, "times": times,
                              "sps": steps / statistics.median(times), "device": device_name()})
        for row in task_rows:
            row["ratio"] = row["sps"] / task_rows[0]["sps"]
            print(f"{task} {row['algo']}: {row['sps']:,.0f} env steps/s ({row['ratio']:.3f} of "
                  f"{task_rows[0]['algo']})", flush=True)
        rows += task_rows
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.record:
        import datetime as dt

        from experiments.benchmarks_md import insert_rows

        lines = [f"| {dt.date.today().isoformat()} | {r['device']} | {r['task']} | {r['algo']} | {r['seeds']} x "
                 f"{r['num_envs']} x {r['num_steps']} x {r['updates']} | {r['sps']:,.0f} | {r['ratio']:.3f} | "
                 f"`python -m experiments.bench_algos --tasks {r['task']} --algos {' '.join(args.algos)} "
                 f"--seeds {args.seeds} --repeats {args.repeats}` |" for r in rows]
        path = ROOT / "BENCHMARKS.md"
        path.write_text(insert_rows(path.read_text(), TABLE_SECTION, TABLE_HEADER, lines))
    return rows


if __name__ == "__main__":
    main()
