"""Training throughput of this tree against an older commit, side by side in one run (BENCHMARKS.md).

    python -m experiments.bench_trainer --old 375acc8 --record
    python -m experiments.bench_trainer --old 375acc8 --tasks predator_prey_p1 --algos mappo --updates 10 --seeds 8

For each task x algorithm it runs, one after another, in separate processes on the same machine:
- `new`: this tree, driven the way `experiments.train` drives it: `Seeds.init`, then chunks of `log_interval`
  updates (one compiled call each, metrics and the finite flags fetched to the host after each), then the greedy
  evaluation;
- `old`: the commit `--old` (checked out into a temporary git worktree), its one-closure `make_train` compiled
  once with a progress reporter, as its CLI ran it (one host callback every `log_interval` updates);
- `old, default XLA flags`: the same old code without the XLA CPU flag that `agentmixer_jax` now sets (the part
  of the change that is not the chunked loop; omitted with `--no-flag-variant`);
- `new, one program` (with `--closure-variant`): this tree's `make_train` (init, every update and the evaluation)
  compiled as ONE program and called once, as the old runner ran. Against `new` it isolates the chunked loop
  from everything else that changed since `--old` (policies, learners, presets' code paths).
Each variant is a long-lived worker process that compiles (not timed) and runs once untimed, then waits. The
parent then times `--repeats` rounds; in each round every variant runs one whole run (init, every update,
evaluation) in turn, the order rotating from round to round, while the other workers sit idle. Interleaving
spreads slow drifts of a shared machine (other tenants, clocks) over all variants alike, where timing all of one
variant's runs before the next's would charge a drift to one of them. Reported: the median env steps/s over all
seeds per variant, new / old of those medians, and the median over rounds of the within-round ratio (the paired
figure, the least sensitive to drift). >= 0.98 means no slowdown from the chunked loop. Same preset, batch, seeds
and updates for every variant.

With `--concurrent`, the two variants `new` and `old` run simultaneously instead, each with XLA single-threaded
and pinned to its own CPU core; each round starts one run of each at once and the cores swap from round to round
(so a faster core favours neither). The paired ratio of a round then compares two runs made under the same
conditions of the machine at the same moment. It measures the loop's cost at one thread per run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tyro

ROOT = Path(__file__).resolve().parents[1]
TABLE_SECTION = "## Trainer redesign: chunked loop against the one-closure runner"
SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
TABLE_HEADER = ["date", "machine", "task", "algo", "seeds x envs x steps x updates", "new env steps/s",
                "old env steps/s", "new / old", "old, default XLA flags", "command"]


@dataclasses.dataclass
class Args:
    """Time this tree's training loop against an older commit's on the same tasks and batch."""

    old: str = "375acc8"
    """Commit (or ref) of the older code: the last commit of the one-closure runner by default."""
    tasks: tuple[str, ...] = ("predator_prey_p1", "ant_4x2")
    """Tasks to time (presets from experiments/presets.py)."""
    algos: tuple[str, ...] = ("mappo", "agentmixer")
    """Algorithms to time."""
    seeds: int = 8
    """Seeds, vmapped."""
    updates: int = 0
    """Updates per timed run (0: 20 on grid tasks, 2 on MaMuJoCo)."""
    num_envs: int = 0
    """Parallel environments per seed (0: the preset's; MaMuJoCo: 64)."""
    repeats: int = 5
    """Timed rounds (one run of every variant each, interleaved) after one compile and one untimed run."""
    flag_variant: bool = True
    """Also time the old code without the XLA CPU flag agentmixer_jax sets."""
    closure_variant: bool = False
    """Also time this tree's whole run as one compiled program (isolates the chunked loop's own cost)."""
    concurrent: bool = False
    """Time `new` and `old` AT THE SAME TIME, each single-threaded and pinned to its own core, swapping the
    cores every round (needs 2+ cores). Times those two only; with `--closure-variant`, `new` beside the one-program
    variant in a second pair; the flag variant is not timed. Both runs of a pair see the same machine, so a
    drift of a shared machine cancels in the paired ratio (the noise that sequential timing cannot remove)."""
    record: bool = False
    """Append the rows to BENCHMARKS.md."""
    json: Path | None = None
    """Write every measurement to this JSON file."""


def _sizes(args: Args, task: str) -> tuple[int, int]:
    mujoco = task.split("_")[0] in ("ant", "halfcheetah", "hopper", "walker2d", "humanoid", "humanoidstandup",
                                    "reacher")
    updates = args.updates or (2 if mujoco else 20)
    num_envs = args.num_envs or (64 if mujoco else 0)
    return updates, num_envs


# ----- one measurement, in its own process (run with PYTHONPATH pointing at the tree to measure) ---------------
def prepare(task: str, algo: str, seeds: int, updates: int, num_envs: int, closure: bool = False):
    """(whole_run, info): a compiled whole run of the tree on the path, and what it measures."""
    import jax
    import numpy as np

    import envs
    from experiments.benchmarks_md import device_name  # noqa: I001 (the measured tree's experiments package)
    from experiments.presets import env_kwargs, preset

    cfg, hp = preset(task, algo)
    if num_envs:
        cfg = dataclasses.replace(cfg, num_envs=num_envs)
    cfg = dataclasses.replace(cfg, total_env_steps=cfg.batch_size * updates, log_every=0)
    if hasattr(cfg, "normalize_inputs"):  # a preset option the one-closure runner did not have: time the loop alone
        cfg = dataclasses.replace(cfg, normalize_inputs=False)
    env = envs.make(task, **env_kwargs(task))
    hp = hp.as_floats()
    try:
        from agentmixer_jax.trainer import Seeds, Trainer
    except ImportError:  # the one-closure runner
        Seeds = None
    if closure:  # this tree's whole run as one program
        from agentmixer_jax.trainer import make_train, seed_keys

        keys = seed_keys(0, seeds)
        compiled = jax.jit(jax.vmap(make_train(env, cfg), in_axes=(0, None))).lower(keys, hp).compile()

        def whole_run():
            return jax.device_get(compiled(keys, hp).eval)
    elif Seeds is not None:
        seeds_prog = Seeds(Trainer(env, cfg), seeds)
        chunk = min(cfg.log_interval, cfg.num_updates)
        chunks = [chunk] * (cfg.num_updates // chunk) + ([cfg.num_updates % chunk] if cfg.num_updates % chunk else [])
        seeds_prog.compile(hp, tuple(dict.fromkeys(chunks)))

        def whole_run():
            state = seeds_prog.init(seeds_prog.keys(0), hp)
            for n in chunks:
                state, metrics, finite = seeds_prog.run(state, n)
                jax.device_get((metrics, finite))
            return jax.device_get(seeds_prog.evaluate(state))
    else:
        from agentmixer_jax.runner import make_train

        train = make_train(env, cfg, reporter=lambda update, metrics: None)
        keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(0), i))(np.arange(seeds))
        compiled = jax.jit(jax.vmap(train, in_axes=(0, None))).lower(keys, hp).compile()

        def whole_run():
            return jax.device_get(compiled(keys, hp).eval)

    steps = seeds * cfg.num_updates * cfg.batch_size
    return whole_run, {"task": task, "algo": algo, "seeds": seeds, "num_envs": cfg.num_envs,
                       "num_steps": cfg.num_steps, "updates": cfg.num_updates, "env_steps": steps,
                       "device": device_name()}


def serve(task: str, algo: str, seeds: int, updates: int, num_envs: int, closure: bool = False) -> None:
    """Worker: compile, run once untimed, print READY; then time one whole run per RUN line on stdin."""
    whole_run, info = prepare(task, algo, seeds, updates, num_envs, closure)
    whole_run()
    print("READY" + json.dumps(info), flush=True)
    for line in sys.stdin:
        if line.strip() != "RUN":
            break
        t0 = time.perf_counter()
        whole_run()
        print(f"TIME {time.perf_counter() - t0!r}", flush=True)


class Worker:
    """One variant's `serve` process: its own tree's packages, its own XLA flags."""

    def __init__(self, tree: Path, xla_flags: str | None, task: str, algo: str, seeds: int, updates: int,
                 num_envs: int, closure: bool = False, core: int | None = None):
        env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "AGENTMIXER_JAX_KEEP_XLA_FLAGS")}
        env["PYTHONPATH"] = str(tree)
        if xla_flags is None:
            env["AGENTMIXER_JAX_KEEP_XLA_FLAGS"] = "1"  # the new package must not add its flag either
        else:
            env["XLA_FLAGS"] = xla_flags
        if core is not None:  # one thread, on one core
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {SINGLE_THREAD_FLAGS}".strip()
        # The tree's own packages only: drop the editable install's finder, which maps agentmixer_jax / envs /
        # experiments to this checkout (and would mix it into an older tree's namespace package).
        unhook = ("sys.meta_path[:] = [f for f in sys.meta_path if 'Editable' not in getattr(f, '__name__', '')]; "
                  "sys.path[:] = [p for p in sys.path if '__editable__' not in p]; ")
        bench = ROOT / "experiments" / "bench_trainer.py"
        code = (f"import sys; {unhook}sys.path.insert(0, {str(tree)!r}); import agentmixer_jax; "
                f"import importlib.util as u; s = u.spec_from_file_location('b', {str(bench)!r}); "
                "m = u.module_from_spec(s); sys.modules['b'] = m; s.loader.exec_module(m); "
                f"m.serve({task!r}, {algo!r}, {seeds}, {updates}, {num_envs}, {closure})")
        self.tree = tree
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=tree, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                     preexec_fn=None if core is None else (lambda: os.sched_setaffinity(0, {core})))
        self.times: list[float] = []
        self.info: dict = {}

    def ready(self) -> Worker:
        """Wait for the compile and the untimed run."""
        self.info = json.loads(self._expect("READY"))
        return self

    def pin(self, core: int) -> None:
        """Move every thread of the worker to `core`."""
        for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
            os.sched_setaffinity(int(tid), {core})

    def start(self) -> None:
        self.proc.stdin.write("RUN\n")
        self.proc.stdin.flush()

    def finish(self) -> float:
        self.times.append(float(self._expect("TIME")))
        return self.times[-1]

    def _expect(self, prefix: str) -> str:
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        self.stderr.seek(0)
        raise RuntimeError(f"measurement in {self.tree} failed:\n{self.stderr.read()[-3000:]}")

    def time_one(self) -> float:
        self.start()
        return self.finish()

    def result(self) -> dict:
        return {**self.info, "times": self.times, "sps": self.info["env_steps"] / statistics.median(self.times)}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        self.stderr.close()


def interleaved(variants: dict[str, tuple], repeats: int, **sizes) -> dict:
    """Start one worker per variant (one after another, so compiles do not overlap), then `repeats` rounds of
    one timed run each, the order rotating per round. Returns {variant: result} with `ratio` (new / old of the
    medians), `paired_ratio` (median over rounds of old time / new time) and `fastest_ratio` (old / new of the
    fastest runs); with `new_closure`, `loop_ratio` and `loop_paired_ratio` (chunked / one program)."""
    workers: dict[str, Worker] = {}
    try:
        for name, (tree, flags, *closure) in variants.items():
            workers[name] = Worker(tree, flags, **sizes, closure=bool(closure and closure[0])).ready()
        names = list(workers)
        for r in range(repeats):
            for name in names[r % len(names):] + names[: r % len(names)]:
                workers[name].time_one()
        row = {name: w.result() for name, w in workers.items()}
    finally:
        for w in workers.values():
            w.close()
    row["ratio"] = row["new"]["sps"] / row["old"]["sps"]
    row["paired_ratio"] = statistics.median(o / n for o, n in zip(row["old"]["times"], row["new"]["times"]))
    # the fastest run of each: least disturbed by other work on a shared machine (timeit's advice)
    row["fastest_ratio"] = min(row["old"]["times"]) / min(row["new"]["times"])
    if "new_closure" in row:  # the chunked loop against the same code as one program
        row["loop_ratio"] = row["new"]["sps"] / row["new_closure"]["sps"]
        row["loop_paired_ratio"] = statistics.median(
            c / n for c, n in zip(row["new_closure"]["times"], row["new"]["times"]))
    return row


def simultaneous(variants: dict[str, tuple], repeats: int, **sizes) -> dict:
    """`new` against `old` (and against `new_closure` when given), two runs at once, single-threaded, on two
    cores swapped every round. `paired_ratio`: the median, over pairs of rounds (each core assignment once), of
    the geometric mean of old time / new time of the two runs made together in each round; `loop_paired_ratio`
    likewise for new_closure / new."""
    if repeats < 2 or repeats % 2:
        raise SystemExit(f"--repeats {repeats}: --concurrent needs an even number of rounds (2 or more), one per "
                         "core assignment of each pair")
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("--concurrent needs two CPU cores")
    row = _pair(variants, "old", repeats, **sizes)
    row["ratio"] = row["new"]["sps"] / row["old"]["sps"]
    row["paired_ratio"] = _paired(row["old"]["times"], row["new"]["times"])
    row["fastest_ratio"] = min(row["old"]["times"]) / min(row["new"]["times"])
    if "new_closure" in variants:
        loop = _pair(variants, "new_closure", repeats, **sizes)
        row["new_closure"] = loop["new_closure"]
        row["new_beside_closure"] = loop["new"]
        row["loop_ratio"] = loop["new"]["sps"] / loop["new_closure"]["sps"]
        row["loop_paired_ratio"] = _paired(loop["new_closure"]["times"], loop["new"]["times"])
    row["concurrent"] = True
    return row


def _pair(variants: dict[str, tuple], other: str, repeats: int, **sizes) -> dict:
    """`new` and `other` timed together, `repeats` rounds: {name: result}."""
    cores = sorted(os.sched_getaffinity(0))[:2]
    workers: dict[str, Worker] = {}
    try:
        for i, name in enumerate(("new", other)):  # both compile at once, one core each
            tree, flags, *closure = variants[name]
            workers[name] = Worker(tree, flags, **sizes, closure=bool(closure and closure[0]), core=cores[i])
        for w in workers.values():
            w.ready()
        for r in range(repeats):
            for i, name in enumerate(("new", other)):
                workers[name].pin(cores[(i + r) % 2])
            for w in workers.values():
                w.start()
            for w in workers.values():
                w.finish()
        return {name: w.result() for name, w in workers.items()}
    finally:
        for w in workers.values():
            w.close()


def _paired(reference: list[float], new: list[float]) -> float:
    """Median over pairs of rounds of the geometric mean of reference / new. The two cores need not be equally
    fast (on the 2-core VM one ran 10-15% slower): each round's ratio carries that factor, inverted in the next
    round, and the geometric mean of rounds 2k and 2k+1 cancels it."""
    per_round = [r / n for r, n in zip(reference, new)]
    return statistics.median(math.sqrt(a * b) for a, b in zip(per_round[::2], per_round[1::2]))


def main(argv: list[str] | None = None) -> list[dict]:
    args = tyro.cli(Args, args=argv)
    from agentmixer_jax import XLA_CPU_FLAG

    with tempfile.TemporaryDirectory() as tmp:
        old_tree = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old_tree), args.old], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            rows = []
            for task in args.tasks:
                updates, num_envs = _sizes(args, task)
                for algo in args.algos:
                    variants = {"new": (ROOT, XLA_CPU_FLAG), "old": (old_tree, XLA_CPU_FLAG)}
                    if args.flag_variant:
                        variants["old_default_flags"] = (old_tree, None)
                    if args.closure_variant:
                        variants["new_closure"] = (ROOT, XLA_CPU_FLAG, True)
                    measure = simultaneous if args.concurrent else interleaved
                    row = measure(variants, args.repeats, task=task, algo=algo, seeds=args.seeds,
                                  updates=updates, num_envs=num_envs)
                    rows.append(row)
                    _print_row(row)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_tree)], cwd=ROOT, capture_output=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.record:
        from experiments.benchmarks_md import insert_rows

        path = ROOT / "BENCHMARKS.md"
        path.write_text(insert_rows(path.read_text(), TABLE_SECTION, TABLE_HEADER, [_markdown(r, args) for r in rows]))
    return rows


def _print_row(row: dict) -> None:
    n, o = row["new"], row["old"]
    extra = f", old with default XLA flags {row['old_default_flags']['sps']:,.0f}" if "old_default_flags" in row else ""
    if "new_closure" in row:
        extra += (f", new as one program {row['new_closure']['sps']:,.0f} (chunked / one program "
                  f"{row['loop_ratio']:.3f}, paired {row['loop_paired_ratio']:.3f})")
    print(f"{n['task']} {n['algo']}: new {n['sps']:,.0f} env steps/s, old {o['sps']:,.0f} "
          f"(new / old {row['ratio']:.3f}, paired {row['paired_ratio']:.3f}, fastest runs "
          f"{row['fastest_ratio']:.3f}){extra}", flush=True)


def _markdown(row: dict, args: Args) -> str:
    import datetime as dt

    n, o = row["new"], row["old"]
    flags = f"{row['old_default_flags']['sps']:,.0f}" if "old_default_flags" in row else "-"
    cmd = (f"`python -m experiments.bench_trainer --old {args.old} --tasks {n['task']} --algos {n['algo']} "
           f"--seeds {args.seeds}" + (f" --updates {args.updates}" if args.updates else "")
           + f" --repeats {args.repeats}" + (" --concurrent" if row.get("concurrent") else "")
           + (" --closure-variant" if "loop_ratio" in row else "") + "`")
    ratio = f"{row['ratio']:.3f}" + (f" (paired {row['paired_ratio']:.3f})" if "paired_ratio" in row else "")
    if "fastest_ratio" in row:
        ratio += f" (fastest {row['fastest_ratio']:.3f})"
    if row.get("concurrent"):
        cmd += " (simultaneous pairs, one pinned core each)"
    if "loop_ratio" in row:
        ratio += (f"; chunked / one program {row['loop_ratio']:.3f} (paired {row['loop_paired_ratio']:.3f}, "
                  f"{row['new_closure']['sps']:,.0f} as one program)")
    return (f"| {dt.date.today().isoformat()} | {n['device']} | {n['task']} | {n['algo']} | {n['seeds']} x "
            f"{n['num_envs']} x {n['num_steps']} x {n['updates']} | {n['sps']:,.0f} | {o['sps']:,.0f} | "
            f"{ratio} | {flags} | {cmd} |")


if __name__ == "__main__":
    main()
