"""Seed scaling: wall time of the same training run for several seed counts, side by side in one process.

    python -m experiments.bench_seeds --env climbing --algo agentmixer --seeds 1 64 1024

Each seed count is compiled once (compile time reported apart) and then timed; the ratio column is
run time relative to the smallest seed count. `--json PATH` writes the figures, `--record` appends a
row per seed count to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import time

import jax

import envs
from agentmixer_jax import registry
from agentmixer_jax.trainer import make_train
from experiments.presets import preset


def measure(env_name: str, algo: str, seeds: list[int]) -> list[dict]:
    cfg, hp = preset(env_name, algo)
    train = make_train(envs.make(env_name), cfg)
    hp = hp.as_floats()
    rows = []
    for s in seeds:
        keys = jax.random.split(jax.random.PRNGKey(0), s)
        t0 = time.perf_counter()
        run = jax.jit(jax.vmap(train, in_axes=(0, None))).lower(keys, hp).compile()
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        jax.block_until_ready(run(keys, hp))
        wall = time.perf_counter() - t0
        rows.append({"seeds": s, "compile_s": compile_s, "run_s": wall,
                     "env_steps_per_s": s * cfg.num_updates * cfg.batch_size / wall})
    base = rows[0]["run_s"]
    for r in rows:
        r["ratio_to_first"] = r["run_s"] / base
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="climbing")
    p.add_argument("--algo", default="agentmixer", choices=registry.names())
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 64, 1024])
    p.add_argument("--json", default=None, help="write the figures to this JSON file")
    p.add_argument("--record", action="store_true", help="append rows to BENCHMARKS.md")
    args = p.parse_args()
    if any(s < 1 for s in args.seeds):
        p.error("--seeds must be positive")
    envs.make(args.env)  # clear error for an unknown env before any compilation
    rows = measure(args.env, args.algo, sorted(args.seeds))
    device = f"{jax.devices()[0].platform} ({jax.devices()[0].device_kind}, {platform.machine()})"
    print(f"{args.algo} on {args.env}, preset budget, device {device}")
    print(f"{'seeds':>6} {'compile s':>10} {'run s':>8} {'x first':>8} {'env steps/s':>14}")
    for r in rows:
        print(f"{r['seeds']:>6} {r['compile_s']:>10.1f} {r['run_s']:>8.2f} {r['ratio_to_first']:>8.2f} "
              f"{r['env_steps_per_s']:>14,.0f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": args.env, "algo": args.algo, "device": device, "rows": rows}, f, indent=1)
    if args.record:
        cmd = f"python -m experiments.bench_seeds --env {args.env} --algo {args.algo} --seeds " + " ".join(
            map(str, args.seeds))
        with open("BENCHMARKS.md", "a") as f:
            for r in rows:
                f.write(f"| {args.env} | {args.algo} | {r['seeds']} | {r['compile_s']:.1f} | {r['run_s']:.2f} | "
                        f"{r['ratio_to_first']:.2f} | {r['env_steps_per_s']:,.0f} | {device} | "
                        f"{dt.date.today().isoformat()} | `{cmd}` |\n")


if __name__ == "__main__":
    main()
