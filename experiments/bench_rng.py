"""Compile time and training speed with JAX's rolled CPU lowering of Threefry against the unrolled one (BENCHMARKS.md).

    python -m experiments.bench_rng --tasks predator_prey_p1 ant_4x2 --algos mappo agentmixer --repeats 3

`import agentmixer_jax` lowers `jax.random`'s Threefry hash on CPU without a loop (`unrolled_cpu_threefry`);
`AGENTMIXER_JAX_ROLLED_THREEFRY=1` keeps JAX's own lowering. Each round runs, for every task x algorithm, one
fresh process per lowering (the order alternating from round to round), each single-threaded on the same pinned
core: compile the init, chunk and evaluation programs (timed), run the chunk once untimed, then time three runs
of `--updates` updates from init (their median) and evaluate. Reported: median compile seconds and env steps/s
per lowering, their ratios, and whether both lowerings gave the same greedy return (they must: the bits are the
same). XLA_FLAGS from the environment are kept (e.g. `--xla_backend_optimization_level=0`, the test session's).
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import tyro

ROOT = Path(__file__).resolve().parents[1]
SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

WORKER = """
import dataclasses, json, sys, time
import agentmixer_jax
import jax
import envs
from agentmixer_jax.trainer import Seeds, Trainer
from experiments.presets import env_kwargs, preset
task, algo, seeds, updates = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cfg, hp = preset(task, algo)
cfg = dataclasses.replace(cfg, total_env_steps=cfg.batch_size * updates, log_every=0)
prog = Seeds(Trainer(envs.make(task, **env_kwargs(task)), cfg), seeds)
hp = hp.as_floats()
t = time.perf_counter()
prog.compile(hp, (updates,))
compile_s = time.perf_counter() - t
state = prog.init(prog.keys(0), hp)
jax.block_until_ready(prog.run(state, updates))
times = []
for _ in range(3):
    t = time.perf_counter()
    state = prog.init(prog.keys(0), hp)
    state, metrics, finite = prog.run(state, updates)
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - t)
run_s = sorted(times)[1]
ret = float(prog.evaluate(state)["return"].mean())
print(json.dumps({"unrolled": agentmixer_jax.UNROLLED_CPU_THREEFRY, "compile_s": compile_s, "run_s": run_s,
                  "env_steps": seeds * updates * cfg.batch_size, "return": ret}))
"""


@dataclasses.dataclass
class Args:
    tasks: tuple[str, ...] = ("predator_prey_p1", "ant_4x2")
    algos: tuple[str, ...] = ("mappo", "agentmixer")
    seeds: int = 8
    updates: int = 4
    """Updates per timed run (one compiled chunk)."""
    repeats: int = 3
    """Rounds; each runs both lowerings once per task x algorithm, in alternating order."""
    core: int = 0
    """The CPU core every worker is pinned to."""


def worker(task: str, algo: str, args: Args, rolled: bool) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREAD_FLAGS}".strip()}
    env.pop("AGENTMIXER_JAX_ROLLED_THREEFRY", None)
    if rolled:
        env["AGENTMIXER_JAX_ROLLED_THREEFRY"] = "1"
    cmd = ["taskset", "-c", str(args.core), sys.executable, "-c", WORKER, task, algo, str(args.seeds),
           str(args.updates)]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"worker {task} {algo} rolled={rolled} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["unrolled"] == rolled:
        raise SystemExit(f"worker {task} {algo}: asked rolled={rolled}, got unrolled={result['unrolled']}")
    return result


def main(args: Args) -> None:
    runs: dict[tuple[str, str, str], list[dict]] = {}
    for r in range(args.repeats):
        for task in args.tasks:
            for algo in args.algos:
                order = ("rolled", "unrolled") if r % 2 else ("unrolled", "rolled")
                for variant in order:
                    res = worker(task, algo, args, rolled=variant == "rolled")
                    runs.setdefault((task, algo, variant), []).append(res)
                    print(f"round {r + 1} {task} {algo} {variant}: compile {res['compile_s']:.1f} s, "
                          f"{res['env_steps'] / res['run_s']:,.0f} env steps/s, return {res['return']:.6f}",
                          flush=True)
    print("\n| task | algo | compile s: rolled / unrolled | unrolled / rolled | env steps/s: rolled / unrolled | "
          "unrolled / rolled | same greedy return |\n|---|---|---|---|---|---|---|")
    for task in args.tasks:
        for algo in args.algos:
            rolled, unrolled = runs[(task, algo, "rolled")], runs[(task, algo, "unrolled")]
            c_r = statistics.median(x["compile_s"] for x in rolled)
            c_u = statistics.median(x["compile_s"] for x in unrolled)
            s_r = statistics.median(x["env_steps"] / x["run_s"] for x in rolled)
            s_u = statistics.median(x["env_steps"] / x["run_s"] for x in unrolled)
            same = len({x["return"] for x in rolled + unrolled}) == 1
            print(f"| {task} | {algo} | {c_r:.1f} / {c_u:.1f} | {c_u / c_r:.2f} | {s_r:,.0f} / {s_u:,.0f} | "
                  f"{s_u / s_r:.2f} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main(tyro.cli(Args))
