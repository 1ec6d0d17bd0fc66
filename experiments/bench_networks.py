"""Training throughput of the critic / network options, side by side in one process (BENCHMARKS.md).

    python -m experiments.bench_networks --tasks protoss_5v5 ant_4x2 --record

Every variant (a set of TrainConfig overrides, `experiments.ablate_networks.VARIANTS`) is compiled first; then
`--repeats` rounds time one whole run (init, every update, evaluation) of each variant in turn, the order rotating
per round, so a drift of a shared machine is spread over all variants. Reported: the median env steps/s over all
seeds and its ratio to the first variant (the library defaults before these options).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path

import tyro

ROOT = Path(__file__).resolve().parents[1]
TABLE_SECTION = "## Critic and network options: throughput"
TABLE_HEADER = ["date", "machine", "task", "algo", "seeds x envs x steps x updates", "variant", "options",
                "env steps/s", "ratio to today", "command"]


@dataclasses.dataclass
class Args:
    tasks: tuple[str, ...] = ("protoss_5v5", "ant_4x2")
    variants: tuple[str, ...] = ("today", "value_norm", "inputs", "layernorm", "orthogonal", "all", "recurrent",
                                 "recurrent_critic")
    algo: str = "mappo"
    seeds: int = 8
    updates: int = 0  # 0: 5 on grid / SMAX tasks, 2 on MaMuJoCo
    num_envs: int = 0  # 0: the preset's; MaMuJoCo: 64
    repeats: int = 3
    record: bool = False  # append the rows to BENCHMARKS.md
    json: Path | None = None


def apply_variant(variant: str, task: str, algo: str):
    """(TrainConfig, HParams) of `algo` on `task` with experiments.ablate_networks.VARIANTS[variant] applied, parsed
    by the training CLI from the ablation's own arguments, so the benchmark times exactly what the ablation trains
    (its total_env_steps is replaced by the benchmark's update count in time_interleaved)."""
    from experiments import ablate_networks
    from experiments.train import _parse

    args = ablate_networks.Args(tasks=(task,), variants=(variant,), algo=algo)
    parsed = _parse(ablate_networks.train_argv(args, task, variant))
    return parsed.config, parsed.hp


def record(rows: list[dict], args: Args) -> None:
    """Append the rows to BENCHMARKS.md's table of this benchmark."""
    import datetime as dt

    from experiments.ablate_networks import VARIANTS
    from experiments.benchmarks_md import insert_rows

    lines = []
    for r in rows:
        opts = " ".join(f"{k}={v}" for k, v in VARIANTS[r["variant"]].items() if v != "False") or "(as before)"
        cmd = (f"`python -m experiments.bench_networks --tasks {r['task']} --variants {' '.join(args.variants)} "
               f"--seeds {r['seeds']} --repeats {args.repeats}`")
        lines.append(f"| {dt.date.today().isoformat()} | {r['device']} | {r['task']} | {r['algo']} | "
                     f"{r['seeds']} x {r['num_envs']} x {r['num_steps']} x {r['updates']} | {r['variant']} | "
                     f"{opts} | {r['sps']:,.0f} | {r['ratio']:.3f} | {cmd} |")
    path = ROOT / "BENCHMARKS.md"
    path.write_text(insert_rows(path.read_text(), TABLE_SECTION, TABLE_HEADER, lines))


def task_sizes(task: str, updates: int = 0, num_envs: int = 0) -> tuple[int, int]:
    """(updates, num_envs) of a timed run: 5 updates on grid / SMAX tasks, 2 on MaMuJoCo (64 envs) unless given."""
    mujoco = task.split("_")[0] in ("ant", "halfcheetah", "hopper", "walker2d", "humanoid", "humanoidstandup",
                                    "reacher")
    return updates or (2 if mujoco else 5), num_envs or (64 if mujoco else 0)


def time_interleaved(env, setups: dict, seeds: int, updates: int, repeats: int, label: str = "") -> dict:
    """{name: (TrainConfig, HParams)} -> {name: (times, TrainConfig)}: each setup compiled and run once untimed,
    then `repeats` rounds of one whole run (init, `updates` updates, evaluation) of every setup in turn, the order
    rotating per round."""
    import jax

    from agentmixer_jax.trainer import Seeds, Trainer

    programs = {}
    for name, (cfg, hp) in setups.items():
        cfg = dataclasses.replace(cfg, total_env_steps=cfg.batch_size * updates)
        prog = Seeds(Trainer(env, cfg), seeds)
        prog.compile(hp, (updates,))

        def whole_run(prog=prog, hp=hp, n=updates):
            state = prog.init(prog.keys(0), hp)
            state, metrics, finite = prog.run(state, n)
            jax.device_get((metrics, finite))
            return jax.device_get(prog.evaluate(state))

        whole_run()  # untimed: first-run effects
        programs[name] = (whole_run, cfg)
        print(f"compiled {label} / {name}", flush=True)
    times = time_rounds({v: run for v, (run, _) in programs.items()}, repeats)
    return {v: (times[v], programs[v][1]) for v in programs}


def time_rounds(runs: dict, repeats: int) -> dict[str, list[float]]:
    """{name: callable} -> {name: seconds per round}: `repeats` rounds of one call of each, the order rotating
    per round (so a drift of the machine charges no name more than another)."""
    names = list(runs)
    times = {v: [] for v in names}
    for r in range(repeats):
        for v in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            runs[v]()
            times[v].append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> list[dict]:
    args = tyro.cli(Args, args=argv)
    import envs
    from experiments.benchmarks_md import device_name
    from experiments.presets import env_kwargs

    rows = []
    for task in args.tasks:
        updates, num_envs = task_sizes(task, args.updates, args.num_envs)
        env = envs.make(task, **env_kwargs(task))
        setups = {}
        for variant in args.variants:
            cfg, hp = apply_variant(variant, task, args.algo)
            if num_envs:
                cfg = dataclasses.replace(cfg, num_envs=num_envs)
            setups[variant] = (cfg, hp)
        timed = time_interleaved(env, setups, args.seeds, updates, args.repeats, label=task)
        names = list(timed)
        for v in names:
            times, cfg = timed[v]
            steps = args.seeds * cfg.num_updates * cfg.batch_size
            rows.append({"task": task, "algo": args.algo, "variant": v, "seeds": args.seeds,
                         "num_envs": cfg.num_envs, "num_steps": cfg.num_steps, "updates": cfg.num_updates,
                         "times": times, "sps": steps / statistics.median(times), "device": device_name()})
        base = rows[-len(names)]["sps"]
        for row in rows[-len(names):]:
            row["ratio"] = row["sps"] / base
            print(f"{task} {row['variant']}: {row['sps']:,.0f} env steps/s ({row['ratio']:.3f} of "
                  f"{names[0]}); runs {', '.join(f'{t:.2f}' for t in row['times'])} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.record:
        record(rows, args)
    return rows


if __name__ == "__main__":
    main()
