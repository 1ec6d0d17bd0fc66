"""Speed of AgentMixer-PPO training on `ant_4x2` against raw Brax Ant stepping, side by side in one run.

    make bench-ant                                   # defaults sized for the device found
    make bench-ant ARGS="--record --json /tmp/bench_ant.json"
    python -m experiments.bench_ant --num-envs 2048 --updates 10 --backend mjx
    python -m experiments.bench_ant --help

Three throughputs at the same batch size (`--num-envs`) and Brax backend, each compiled once (compile
time reported apart) and timed after compilation:

1. raw Brax: `brax.envs.get_environment("ant", backend=...)`, uniform random actions, a jitted
   `lax.scan` of `--num-steps` steps over the vmapped batch (no auto-reset, no episode wrapper): the
   ceiling for our environment and trainer;
2. our wrapper: `envs.make("ant_4x2", obsk=..., backend=...)` inside `EpisodeStats(AutoReset(...))`,
   exactly as the trainer wraps it, random joint actions, the same scan;
3. training: `make_train(env, config)` with the env's preset (experiments/presets.py: MAPPO's MuJoCo
   settings, rollouts of 100 steps, 5 epochs x 4 minibatches) at `--num-envs`, one seed, the whole
   jitted `train` (rollouts, GAE, epochs x minibatches, and a final 1-episode greedy evaluation).

Env steps/s = envs x steps / wall seconds (env rows: median of `--env-reps` runs, each including one
reset; training: one run of `--updates` updates, including initialisation and the 1-episode
evaluation). The goals checked: training >= 0.6 x raw Brax, wrapper >= 0.95 x raw Brax. Peak memory is
the device allocator's `peak_bytes_in_use` on an accelerator and the process's maximum resident set
size (`ru_maxrss`) on CPU, over the whole run. `--json PATH` writes the figures (`train_sps`,
`env_sps`, `ratio`, `compile_s`, `peak_mem_mb`, `device`, `num_envs`, ...); `--record` appends a row to
the "## make bench-ant" section of BENCHMARKS.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Literal

import tyro

from agentmixer_jax import registry

TRAIN_GOAL = 0.6  # training env-steps/s over raw Brax env-steps/s
WRAPPER_GOAL = 0.95  # our wrapped env over raw Brax
SECTION = "## make bench-ant"
# Default sizes: (num_envs, updates) on CPU and on an accelerator.
CPU_DEFAULTS = (256, 2)
ACCEL_DEFAULTS = (4096, 10)


@dataclasses.dataclass
class Args:
    """Train AgentMixer-PPO on a multi-agent Brax task and compare its speed with raw Brax stepping."""

    env: str = "ant_4x2"
    """Multi-agent Brax task (ant_4x2, ant_2x4, halfcheetah_6x1, ...); raw Brax steps the same robot."""
    algo: Literal[registry.names()] = "agentmixer"  # type: ignore[valid-type]
    """Algorithm trained in the training row."""
    num_envs: int | None = None
    """Parallel environments (the batch of every row). Default: 256 on CPU, 4096 on a GPU/TPU."""
    num_steps: int | None = None
    """Rollout length per update, also the scan length of the env rows. Default: the env's preset (100)."""
    updates: int | None = None
    """PPO updates timed in the training row. Default: 2 on CPU, 10 on a GPU/TPU."""
    total_env_steps: int | None = None
    """Alternative to --updates: training budget in env steps (rounded down to whole updates)."""
    update_epochs: int | None = None
    """PPO epochs per update. Default: the env's preset (5, MAPPO's MuJoCo setting)."""
    num_minibatches: int | None = None
    """Minibatches per epoch (must divide num_envs * num_steps). Default: the env's preset (4)."""
    pm_channels: int | None = None
    """AgentMixer Policy Modifier width. Default: the preset's (64, the authors'); 16 trades width for CPU speed."""
    backend: Literal["positional", "generalized", "mjx", "spring"] = "positional"
    """Brax physics backend of all three rows."""
    obsk: int | None = 2
    """Observation depth k of each agent (MaMuJoCo agent_obsk; the authors and the preset use 2); None = full
    state."""
    env_reps: int = 3
    """Timed runs of each env row (median reported)."""
    seed: int = 0
    """PRNG seed."""
    json: Path | None = None
    """Write the figures to this JSON file."""
    record: bool = False
    """Append a row to the '## make bench-ant' section of --record-to (created if missing)."""
    record_to: Path = Path("BENCHMARKS.md")
    """Markdown file that --record appends to."""


def _fail(msg: str):
    print(f"error: {msg}", file=sys.stderr)
    raise SystemExit(2)


def _plan(args: Args, accelerator: bool):
    """The env's training preset (experiments/presets.py) with the flags and device-sized defaults applied.

    Returns (validated TrainConfig, HParams); raises ValueError naming the bad flag before any compilation.
    The final greedy evaluation is cut to one episode (it is timed with training)."""
    from envs.mabrax.partitions import task_names
    from experiments.presets import preset

    if args.env not in task_names():
        raise ValueError(f"--env {args.env!r} is not a multi-agent Brax task; known: {', '.join(task_names())}")
    base, hp = preset(args.env, args.algo)
    num_envs, updates = ACCEL_DEFAULTS if accelerator else CPU_DEFAULTS
    pick = lambda flag, default: default if flag is None else flag  # noqa: E731
    num_envs = pick(args.num_envs, num_envs)
    num_steps = pick(args.num_steps, base.num_steps)
    epochs = pick(args.update_epochs, base.update_epochs)
    minibatches = pick(args.num_minibatches, base.num_minibatches)
    for name, value in (("--num-envs", num_envs), ("--num-steps", num_steps), ("--env-reps", args.env_reps),
                        ("--update-epochs", epochs), ("--num-minibatches", minibatches)):
        if value < 1:
            raise ValueError(f"{name} {value} must be >= 1")
    if args.obsk is not None and args.obsk < 0:
        raise ValueError(f"--obsk {args.obsk} must be >= 0 (or None for the full state)")
    batch = num_envs * num_steps
    if args.updates is not None and args.total_env_steps is not None:
        raise ValueError("give either --updates or --total-env-steps, not both")
    if args.total_env_steps is not None:
        if args.total_env_steps < batch:
            raise ValueError(f"--total-env-steps {args.total_env_steps} is less than one update "
                             f"(num_envs * num_steps = {batch})")
        updates = args.total_env_steps // batch
    elif args.updates is not None:
        updates = args.updates
    if updates < 1:
        raise ValueError(f"--updates {updates} must be >= 1")
    if batch % minibatches:
        raise ValueError(f"--num-minibatches {minibatches} must divide the batch num_envs * num_steps "
                         f"= {batch}; pick a divisor of {batch}")
    cfg = dataclasses.replace(base, num_envs=num_envs, num_steps=num_steps, total_env_steps=updates * batch,
                              update_epochs=epochs, num_minibatches=minibatches, eval_episodes=1,
                              pm_channels=args.pm_channels or base.pm_channels)
    return cfg.validate(), hp


def _make_env(args: Args):
    """The multi-agent task and the name of its raw Brax environment. Raises ValueError."""
    import envs

    env = envs.make(args.env, obsk=args.obsk, backend=args.backend)
    return env, env.robot_spec.brax_name


def _timed_compile(fn, *example):
    import jax

    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*example).compile()
    return compiled, time.perf_counter() - t0


def _time_once(compiled, *inputs) -> float:
    """Wall seconds of one call of a compiled function (results waited for)."""
    import jax

    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*inputs))
    return time.perf_counter() - t0


def compile_raw_brax(brax_name: str, backend: str, num_envs: int, num_steps: int, key):
    """Raw Brax: `run(key)` = vmapped reset, then a scan of random-action vmapped steps (no wrappers).

    Returns (compiled run, compile seconds)."""
    import brax.envs
    import jax

    benv = brax.envs.get_environment(brax_name, backend=backend)

    def run(key):
        k_reset, k_steps = jax.random.split(key)
        state = jax.vmap(benv.reset)(jax.random.split(k_reset, num_envs))

        def body(state, k):
            action = jax.random.uniform(k, (num_envs, benv.action_size), minval=-1.0, maxval=1.0)
            state = jax.vmap(benv.step)(state, action)
            return state, state.reward.sum()

        _, rewards = jax.lax.scan(body, state, jax.random.split(k_steps, num_steps))
        return rewards.sum()

    return _timed_compile(run, key)


def compile_wrapper(env, num_envs: int, num_steps: int, key):
    """Our task as the trainer wraps it (`agentmixer_jax.acting.wrap`: `EpisodeStats(AutoReset(env))`), random
    joint actions, the same scan (no policy network: this row measures the env and its wrappers).

    Returns (compiled run, compile seconds)."""
    import jax

    from agentmixer_jax.acting import wrap

    wrapped = wrap(env)
    params = wrapped.default_params()
    shape = wrapped.spec(params).action_shape()
    v_reset = jax.vmap(wrapped.reset, in_axes=(0, None))
    v_step = jax.vmap(wrapped.step, in_axes=(0, 0, 0, None))

    def run(key):
        k_reset, k_steps = jax.random.split(key)
        state, _ = v_reset(jax.random.split(k_reset, num_envs), params)

        def body(state, k):
            k_act, k_env = jax.random.split(k)
            action = jax.random.uniform(k_act, (num_envs, *shape), minval=-1.0, maxval=1.0)
            state, ts = v_step(jax.random.split(k_env, num_envs), state, action, params)
            return state, ts.reward.sum()

        _, rewards = jax.lax.scan(body, state, jax.random.split(k_steps, num_steps))
        return rewards.sum()

    return _timed_compile(run, key)


def compile_train(env, cfg, hp, key):
    """One seed of `make_train(env, cfg)`, compiled ahead of time. Returns (compiled train, compile seconds)."""
    from agentmixer_jax.trainer import make_train

    return _timed_compile(make_train(env, cfg), key, hp)


def measure(env, brax_name: str, backend: str, cfg, hp, reps: int, seed: int, log=print) -> dict:
    """Compile the three programs, then time them interleaved so that load drift on a shared machine
    hits all rows alike: (raw, wrapper) once before the training run and `reps - 1` times after it.
    Env rows report the median of their `reps` runs."""
    import jax

    E, T = cfg.num_envs, cfg.num_steps
    key = jax.random.PRNGKey(seed)
    raw, raw_compile = compile_raw_brax(brax_name, backend, E, T, key)
    log(f"  compiled raw Brax stepping in {raw_compile:.1f} s")
    wrap, wrap_compile = compile_wrapper(env, E, T, key)
    log(f"  compiled our wrapped env stepping in {wrap_compile:.1f} s")
    hp = hp.as_floats()
    train, train_compile = compile_train(env, cfg, hp, key)
    log(f"  compiled training in {train_compile:.1f} s; timing...")
    raw_s, wrap_s = [], []

    def env_rep(r):
        k = jax.random.fold_in(key, r + 1)
        raw_s.append(_time_once(raw, k))
        wrap_s.append(_time_once(wrap, k))

    env_rep(0)
    train_s = _time_once(train, key, hp)
    for r in range(1, reps):
        env_rep(r)
    steps = E * T
    return {"env_sps": steps / statistics.median(raw_s), "wrapper_sps": steps / statistics.median(wrap_s),
            "train_sps": cfg.num_updates * cfg.batch_size / train_s, "train_run_s": train_s,
            "env_compile_s": raw_compile, "wrapper_compile_s": wrap_compile, "compile_s": train_compile,
            "env_sps_runs": [steps / t for t in raw_s], "wrapper_sps_runs": [steps / t for t in wrap_s]}


def peak_memory_mb(jax) -> tuple[float, str]:
    """(peak MB, what was measured): device allocator peak on accelerators, max RSS on CPU."""
    dev = jax.devices()[0]
    stats = dev.memory_stats() if dev.platform != "cpu" else None
    if stats and "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20, f"{dev.platform} peak_bytes_in_use"
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return rss_kb / 1024, "process max RSS (ru_maxrss)"


def _command(argv: list[str]) -> str:
    """The command that reproduces the figures (--json and --record dropped: they do not change them)."""
    keep, skip = [], False
    for tok in argv:
        if skip:
            skip = False
            continue
        if tok in ("--json", "--record-to"):
            skip = True
            continue
        if tok == "--record" or tok.startswith(("--json=", "--record-to=")):
            continue
        keep.append(tok)
    return " ".join(["python -m experiments.bench_ant", *keep])


_HEADER = ("| date | device | env | algo | backend | obsk | num envs | train steps/s | raw Brax steps/s | train / raw "
           "| wrapper steps/s | wrapper / raw | compile s (train) | peak MB | command |")
_INTRO = """{section}

AgentMixer-PPO training on a multi-agent Brax task against raw Brax stepping of the same robot, at the
same batch size and backend, in one run: raw `brax.envs` stepping (random actions, jitted scan over a
vmapped batch) is the ceiling; "wrapper" is our task inside `EpisodeStats(AutoReset(...))` as the trainer
uses it. Training is one seed of the jitted `train` with the env's preset (MAPPO's MuJoCo settings:
rollouts of 100 steps, 5 epochs x 4 minibatches; initialisation and a 1-episode greedy evaluation
included). Goals: train / raw >= 0.6, wrapper / raw >= 0.95. Peak MB is the device allocator's peak on
a GPU and the process's max RSS on CPU.

{header}
|{sep}
"""


def record_row(path: Path, r: dict) -> None:
    """Append a row to the bench-ant table of `path`, creating the section (or the file) if missing."""
    from experiments.benchmarks_md import insert_rows

    row = (f"| {r['date']} | {r['device']} | {r['env']} | {r['algo']} | {r['backend']} | {r['obsk']} | "
           f"{r['num_envs']} | {r['train_sps']:,.0f} | {r['env_sps']:,.0f} | {r['ratio']:.2f} | "
           f"{r['wrapper_sps']:,.0f} | {r['wrapper_ratio']:.2f} | {r['compile_s']:.1f} | {r['peak_mem_mb']:,.0f} | "
           f"`{r['command']}` |")
    text = path.read_text() if path.exists() else "# Benchmarks (speed)\n"
    if not any(line.strip() == SECTION for line in text.splitlines()):  # a new section opens with its intro
        sep = "---|" * _HEADER.count(" | ") + "---|"
        text = text.rstrip("\n") + "\n\n" + _INTRO.format(section=SECTION, header=_HEADER, sep=sep)
    path.write_text(insert_rows(text, SECTION, [], [row]))


def _table(res: dict, console) -> None:
    from rich.table import Table

    def goal(ratio, target):
        ok = ratio >= target
        return f"[{'green' if ok else 'red'}]{ratio:.2f} ({'meets' if ok else 'below'} >= {target})[/]"

    t = Table(title=f"{res['algo']} on {res['env']} (obsk={res['obsk']}, {res['backend']} backend), "
                    f"{res['num_envs']} envs, {res['device']}")
    for col in ("what", "env steps/s", "x raw Brax", "compile s"):
        t.add_column(col, justify="left" if col == "what" else "right")
    t.add_row("raw Brax stepping (ceiling)", f"{res['env_sps']:,.0f}", "1.00", f"{res['env_compile_s']:.1f}")
    t.add_row("our wrapped env stepping", f"{res['wrapper_sps']:,.0f}", goal(res["wrapper_ratio"], WRAPPER_GOAL),
              f"{res['wrapper_compile_s']:.1f}")
    t.add_row(f"{res['algo']}-PPO training", f"{res['train_sps']:,.0f}", goal(res["ratio"], TRAIN_GOAL),
              f"{res['compile_s']:.1f}")
    console.print(t)
    console.print(f"training: {res['updates']} updates x {res['num_envs']} envs x {res['num_steps']} steps in "
                  f"{res['train_run_s']:.1f} s ({res['update_epochs']} epochs x {res['num_minibatches']} "
                  f"minibatches); peak memory {res['peak_mem_mb']:,.0f} MB ({res['peak_mem_source']}); "
                  f"jax {res['jax']}")


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = tyro.cli(Args, args=argv, description=__doc__)

    import jax
    from rich.console import Console

    from experiments.benchmarks_md import device_name

    accelerator = jax.devices()[0].platform != "cpu"
    try:
        cfg, hp = _plan(args, accelerator)
        env, brax_name = _make_env(args)
    except ValueError as err:
        _fail(str(err))
    device = device_name()
    E, T = cfg.num_envs, cfg.num_steps
    console = Console()
    console.print(f"[bold]bench-ant[/bold]: {args.env} ({args.algo}, obsk={args.obsk}, {args.backend}) with "
                  f"{E} envs on {device}; compiling and timing raw Brax, our wrapper, then training "
                  f"({cfg.num_updates} updates)...")
    m = measure(env, brax_name, args.backend, cfg, hp, args.env_reps, args.seed, log=console.print)
    peak, peak_source = peak_memory_mb(jax)
    res = {
        "train_sps": m["train_sps"], "env_sps": m["env_sps"], "ratio": m["train_sps"] / m["env_sps"],
        "compile_s": m["compile_s"], "peak_mem_mb": peak, "device": device, "num_envs": E,
        "wrapper_sps": m["wrapper_sps"], "wrapper_ratio": m["wrapper_sps"] / m["env_sps"],
        "env_compile_s": m["env_compile_s"], "wrapper_compile_s": m["wrapper_compile_s"],
        "train_run_s": m["train_run_s"], "env_sps_runs": m["env_sps_runs"], "wrapper_sps_runs": m["wrapper_sps_runs"],
        "peak_mem_source": peak_source, "env": args.env, "algo": args.algo, "backend": args.backend,
        "obsk": args.obsk, "num_steps": T, "updates": cfg.num_updates, "update_epochs": cfg.update_epochs,
        "num_minibatches": cfg.num_minibatches, "env_reps": args.env_reps,
        "jax": jax.__version__, "date": dt.date.today().isoformat(), "command": _command(argv),
    }
    _table(res, console)
    if args.json is not None:
        args.json.write_text(json.dumps(res, indent=1))
        console.print(f"wrote {args.json}")
    if args.record:
        record_row(args.record_to, res)
        console.print(f"appended a row to {args.record_to}")
    return res


if __name__ == "__main__":
    main()
