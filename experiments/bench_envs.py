"""Environment step throughput: env steps/s of registered tasks at many parallel envs, on this device.

    python -m experiments.bench_envs                                  # defaults: 1024 envs, every default task
    python -m experiments.bench_envs --tasks bridge predator_prey_p1 --num-envs 4096
    python -m experiments.bench_envs --tasks protoss_10v10 --no-jaxmarl
    make bench-envs ARGS="--record --json /tmp/bench_envs.json"     # installs the `bench` extra first

One env step is one joint step of all agents of one environment. Each task runs `--num-envs`
environments, vmapped, for `--steps` steps in one jitted `lax.scan`, with auto-reset (`envs.AutoReset`)
and random *valid* actions: discrete actions are drawn uniformly from each agent's `action_mask`,
continuous ones uniformly in [-1, 1]. Observations, global state and rewards are folded into a checksum
carried by the scan, so XLA cannot drop any of them (a learner reads all three). Every program is
compiled (timed apart) and run once untimed before timing; the timed repetitions are interleaved
across tasks (rep 1 of every task, then rep 2, ...) so that load from other processes hits all tasks
alike, and the median is reported, with `jax.block_until_ready` around each call.

JaxMARL's SMAX (`--jaxmarl`, on by default; needs the `bench` extra, which `make bench-envs` installs
with --no-deps, see the Makefile): for every SMACv2
stand-in task of ours with equal teams of 5, 10 or 20 (`protoss_5v5`, `zerg_10v10`, ...) the matching
JaxMARL scenario (`smacv2_5_units`, ...) runs in the same process, built as JaxMARL's own SMAX
baselines build it, `jaxmarl.make("HeuristicEnemySMAX", scenario=map_name_to_scenario(name))` (their
ENV_KWARGS, see_enemy_actions / walls_cause_death / attack_mode="closest", are its defaults): its
scripted enemy runs inside `step`, as ours does. Its `step` auto-resets, its random actions are drawn
from `get_avail_actions` (dicts of agent names, converted inside the jit), and the column
`vs JaxMARL` is our env steps/s divided by JaxMARL's at the same team size, measured in the same run.

`--json PATH` writes every figure; `--record` adds the rows to BENCHMARKS.md (grid and other tasks
under "Environment step throughput", the SMACv2 rows under "SMACv2 stand-in against JaxMARL's SMAX").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import tyro

import envs
from experiments.benchmarks_md import device_name, insert_rows

DEFAULT_TASKS = (
    "bridge",
    "predator_prey_p1",
    "protoss_5v5",
    "terran_5v5",
    "zerg_5v5",
    "protoss_10v10",
    "terran_10v10",
    "zerg_10v10",
)
JAXMARL_SIZES = (5, 10, 20)  # JaxMARL ships smacv2_{5,10,20}_units (equal teams)

ENV_SECTION = "## Environment step throughput"
SMAX_SECTION = "## SMACv2 stand-in against JaxMARL's SMAX"
# the columns of the two tables (a missing section is created with them)
ENV_HEADER = ["task", "agents", "parallel envs", "env steps/s", "episodes ended per call", "compile s", "device",
              "date", "command"]
SMAX_HEADER = ["task", "implementation", "agents", "parallel envs", "env steps/s", "ours / JaxMARL", "compile s",
               "device", "date", "command"]


@dataclasses.dataclass
class Args:
    """Env steps/s of registered tasks at many parallel envs (random valid actions, auto-reset)."""

    tasks: tuple[str, ...] = DEFAULT_TASKS
    """Registered task names (see `python -m experiments.train --list-envs`)."""
    num_envs: int = 1024
    """Parallel environments (vmapped)."""
    steps: int = 100
    """Env steps per environment in one timed call (one jitted lax.scan)."""
    reps: int = 3
    """Timed repetitions per task after compile and one warm-up call; the median is reported."""
    jaxmarl: bool = True
    """Also run JaxMARL's SMAX (HeuristicEnemySMAX, smacv2_{5,10,20}_units) beside our SMACv2 stand-in
    tasks of the same size (needs the `bench` extra; skipped with a message when it is not installed)."""
    json: Path | None = None
    """Write every figure to this JSON file."""
    record: bool = False
    """Add the rows to BENCHMARKS.md (with the date, the device and the command)."""


@dataclasses.dataclass
class Program:
    """One compiled benchmark: `fn(carry, key) -> (carry, (env_steps (E,), episodes (E,), checksum))`."""

    task: str
    impl: str  # "ours" or "jaxmarl"
    num_agents: int
    num_envs: int
    steps: int
    fn: Callable
    carry: Any
    compile_s: float


# --- building the programs ---------------------------------------------------------------------------


def check_config(tasks: Sequence[str], num_envs: int, steps: int, reps: int) -> None:
    """Fail before any compilation: positive sizes, known task names (with the list of known ones)."""
    for field, v in (("num_envs", num_envs), ("steps", steps), ("reps", reps)):
        if v < 1:
            raise ValueError(f"--{field.replace('_', '-')} must be >= 1, got {v}")
    if not tasks:
        raise ValueError("--tasks is empty: name at least one registered task")
    known = set(envs.registered_tasks())
    for t in tasks:
        if t not in known:
            envs.make(t)  # raises ValueError: unknown env, did you mean ..., known envs ...


def sample_valid_actions(key, mask: jax.Array, discrete: bool) -> jax.Array:
    """Uniform over available actions (discrete, mask (..., N, A)) or uniform in [-1, 1] (continuous)."""
    if discrete:
        return jax.random.categorical(key, jnp.where(mask, 0.0, -jnp.inf)).astype(jnp.int32)
    return jax.random.uniform(key, mask.shape, minval=-1.0, maxval=1.0)


def _checksum(*trees) -> jax.Array:
    return sum(jnp.sum(jnp.asarray(x, jnp.float32)) for t in trees for x in jax.tree.leaves(t))


def _compile(task, impl, num_agents, num_envs, steps, reset, rollout, key) -> Program:
    carry = jax.block_until_ready(jax.jit(reset)(key))
    t0 = time.perf_counter()
    fn = jax.jit(rollout).lower(carry, key).compile()
    compile_s = time.perf_counter() - t0
    return Program(task, impl, num_agents, num_envs, steps, fn, carry, compile_s)


def ours_loop(task: str, num_envs: int, steps: int, env: envs.MultiAgentEnv | None = None):
    """`(reset, rollout, num_agents)` of our task `task` (or the already built `env`) under
    `envs.AutoReset`: `reset(key) -> carry`, `rollout(carry, key) -> (carry, (env_steps (E,),
    episodes (E,), checksum))` runs `num_envs` vmapped envs for `steps` steps in one scan."""
    env = envs.AutoReset(envs.make(task) if env is None else env)
    params = env.default_params()
    spec = env.spec(params)
    v_reset = jax.vmap(env.reset, in_axes=(0, None))
    v_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def reset(key):
        state, ts = v_reset(jax.random.split(key, num_envs), params)
        return state, ts.action_mask

    def rollout(carry, key):
        def body(c, k):
            state, mask, n, eps, chk = c
            k_act, k_step = jax.random.split(k)
            action = sample_valid_actions(k_act, mask, spec.discrete)
            state, ts = v_step(jax.random.split(k_step, num_envs), state, action, params)
            chk = chk + _checksum(ts.obs, ts.state, ts.reward)
            return (state, ts.action_mask, n + 1, eps + ts.done.astype(jnp.int32), chk), None

        state, mask = carry
        zeros = jnp.zeros((num_envs,), jnp.int32)
        init = (state, mask, zeros, zeros, jnp.zeros((), jnp.float32))
        (state, mask, n, eps, chk), _ = jax.lax.scan(body, init, jax.random.split(key, steps))
        return (state, mask), (n, eps, chk)

    return reset, rollout, spec.num_agents


def build_ours(task: str, num_envs: int, steps: int, key: jax.Array | None = None,
               env: envs.MultiAgentEnv | None = None) -> Program:
    """`ours_loop`, compiled."""
    reset, rollout, num_agents = ours_loop(task, num_envs, steps, env)
    key = jax.random.PRNGKey(0) if key is None else key
    return _compile(task, "ours", num_agents, num_envs, steps, reset, rollout, key)


def jaxmarl_map(env: envs.MultiAgentEnv) -> str | None:
    """JaxMARL's SMACv2 scenario of the same team size as our env (`protoss_5v5` -> `smacv2_5_units`)."""
    from envs.smaxv2 import SMAXv2

    if isinstance(env, SMAXv2) and env.num_agents == env.n_enemies and env.num_agents in JAXMARL_SIZES:
        return f"smacv2_{env.num_agents}_units"
    return None


def jaxmarl_loop(map_name: str, num_envs: int, steps: int):
    """`ours_loop` for JaxMARL's `HeuristicEnemySMAX` on `map_name` (its own `step` auto-resets)."""
    import jaxmarl
    from jaxmarl.environments.smax import map_name_to_scenario

    env = jaxmarl.make("HeuristicEnemySMAX", scenario=map_name_to_scenario(map_name))
    agents = list(env.agents)

    def step_one(key, state):
        k_act, k_step = jax.random.split(key)
        avail = env.get_avail_actions(state)
        mask = jnp.stack([avail[a] for a in agents]) > 0  # (N, A)
        action = sample_valid_actions(k_act, mask, True)
        actions = {a: action[i] for i, a in enumerate(agents)}
        obs, state, reward, dones, _ = env.step(k_step, state, actions)
        return state, dones["__all__"], _checksum(obs, reward)  # obs includes "world_state"

    v_step = jax.vmap(step_one)

    def reset(key):
        return jax.vmap(env.reset)(jax.random.split(key, num_envs))[1]

    def rollout(state, key):
        def body(c, k):
            state, n, eps, chk = c
            state, done, c_sum = v_step(jax.random.split(k, num_envs), state)
            return (state, n + 1, eps + done.astype(jnp.int32), chk + jnp.sum(c_sum)), None

        zeros = jnp.zeros((num_envs,), jnp.int32)
        init = (state, zeros, zeros, jnp.zeros((), jnp.float32))
        (state, n, eps, chk), _ = jax.lax.scan(body, init, jax.random.split(key, steps))
        return state, (n, eps, chk)

    return reset, rollout, len(agents)


def build_jaxmarl(map_name: str, num_envs: int, steps: int, key: jax.Array | None = None) -> Program:
    """`jaxmarl_loop`, compiled."""
    reset, rollout, num_agents = jaxmarl_loop(map_name, num_envs, steps)
    key = jax.random.PRNGKey(0) if key is None else key
    return _compile(f"jaxmarl:{map_name}", "jaxmarl", num_agents, num_envs, steps, reset, rollout, key)


# --- timing ------------------------------------------------------------------------------------------


def _call(prog: Program, key) -> tuple[float, dict]:
    t0 = time.perf_counter()
    _, (n, eps, chk) = jax.block_until_ready(prog.fn(prog.carry, key))
    wall = time.perf_counter() - t0
    counts = {
        "env_steps": int(np.asarray(n, np.int64).sum()),
        "episodes": int(np.asarray(eps, np.int64).sum()),
        "checksum": float(chk),
    }
    return wall, counts


def time_programs(programs: Sequence[Program], reps: int) -> list[dict]:
    """One warm-up call each, then `reps` rounds over all programs; median wall time per program."""
    for i, p in enumerate(programs):
        _call(p, jax.random.PRNGKey(1000 + i))
    walls: list[list[float]] = [[] for _ in programs]
    counts: list[dict] = [{} for _ in programs]
    for r in range(reps):
        for i, p in enumerate(programs):
            wall, c = _call(p, jax.random.PRNGKey(r * len(programs) + i))
            walls[i].append(wall)
            counts[i] = c
    rows = []
    for p, w, c in zip(programs, walls, counts):
        med = statistics.median(w)
        rows.append({
            "task": p.task,
            "impl": p.impl,
            "num_agents": p.num_agents,
            "num_envs": p.num_envs,
            "steps": p.steps,
            "env_steps_per_call": c["env_steps"],
            "episodes_per_call": c["episodes"],
            "compile_s": p.compile_s,
            "wall_s": w,
            "median_s": med,
            "env_steps_per_s": c["env_steps"] / med,
            "agent_steps_per_s": c["env_steps"] * p.num_agents / med,
            "checksum_finite": bool(np.isfinite(c["checksum"])),
        })
    return rows


def throughput(task: str, num_envs: int = 1024, steps: int = 100, reps: int = 3) -> dict:
    """Env steps/s of one of our tasks (one row of `time_programs`)."""
    check_config([task], num_envs, steps, reps)
    return time_programs([build_ours(task, num_envs, steps)], reps)[0]


def add_ratios(rows: list[dict]) -> None:
    """`vs_jaxmarl` on each of our SMACv2 rows: our env steps/s over JaxMARL's at the same team size."""
    ref = {r["num_agents"]: r["env_steps_per_s"] for r in rows if r["impl"] == "jaxmarl"}
    for r in rows:
        r["vs_jaxmarl"] = None
        if r["impl"] == "ours" and r.get("jaxmarl_map"):
            base = ref.get(r["num_agents"])
            r["vs_jaxmarl"] = r["env_steps_per_s"] / base if base else None


def run(args: Args) -> tuple[list[dict], str | None]:
    """Build, compile and time every program; returns the rows and JaxMARL's import error, if any."""
    check_config(args.tasks, args.num_envs, args.steps, args.reps)
    built = {t: envs.make(t) for t in args.tasks}
    maps = {t: jaxmarl_map(e) for t, e in built.items()}
    jaxmarl_error = None
    wanted = sorted({m for m in maps.values() if m}, key=lambda m: int(m.split("_")[1]))
    if args.jaxmarl and wanted:
        try:
            import jaxmarl  # noqa: F401
        except Exception as err:  # report and go on with our tasks
            jaxmarl_error = f"{type(err).__name__}: {err}"
            wanted = []
    else:
        wanted = []
    programs = []
    for t in args.tasks:
        print(f"compiling {t} ...", flush=True)
        programs.append(build_ours(t, args.num_envs, args.steps, env=built[t]))
    for m in wanted:
        print(f"compiling jaxmarl:{m} ...", flush=True)
        programs.append(build_jaxmarl(m, args.num_envs, args.steps))
    print(f"timing {len(programs)} programs x {args.reps} reps ...", flush=True)
    rows = time_programs(programs, args.reps)
    for r in rows:
        r["jaxmarl_map"] = maps.get(r["task"]) if r["impl"] == "ours" else r["task"].split(":", 1)[1]
    add_ratios(rows)
    return rows, jaxmarl_error


# --- reporting ---------------------------------------------------------------------------------------


def command(args: Args) -> str:
    """The command that reproduces these figures (without --json / --record)."""
    parts = ["python -m experiments.bench_envs"]
    if tuple(args.tasks) != DEFAULT_TASKS:
        parts += ["--tasks", *args.tasks]
    parts += ["--num-envs", str(args.num_envs), "--steps", str(args.steps), "--reps", str(args.reps)]
    if not args.jaxmarl:
        parts.append("--no-jaxmarl")
    return " ".join(parts)


def print_table(rows: list[dict], device: str, args: Args) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"env steps/s at {args.num_envs} parallel envs, {args.steps} steps per call, "
                        f"median of {args.reps}, {device}, jax {jax.__version__}")
    for col in ("task", "impl", "agents", "compile s", "median s", "env steps/s", "agent steps/s",
                "episodes ended", "vs JaxMARL"):
        table.add_column(col, justify="left" if col in ("task", "impl") else "right")
    for r in rows:
        ratio = f"{r['vs_jaxmarl']:.2f}x" if r.get("vs_jaxmarl") else ("1 (ref)" if r["impl"] == "jaxmarl" else "")
        table.add_row(r["task"], r["impl"], str(r["num_agents"]), f"{r['compile_s']:.1f}",
                      f"{r['median_s']:.3f}", f"{r['env_steps_per_s']:,.0f}", f"{r['agent_steps_per_s']:,.0f}",
                      f"{r['episodes_per_call']:,}", ratio)
    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the table into 80 columns
        console = Console(width=max(console.width, 150))
    console.print(table)


def record(rows: list[dict], args: Args, device: str, path: Path = Path("BENCHMARKS.md"),
           date: str | None = None) -> None:
    """Add one BENCHMARKS.md row per task: SMACv2 rows (ours and JaxMARL's) in their own section."""
    date = date or dt.date.today().isoformat()
    cmd = f"`{command(args)}`"
    env_lines, smax_lines = [], []
    for r in rows:
        common = [str(r["num_agents"]), f"{r['num_envs']:,}", f"{r['env_steps_per_s']:,.0f}"]
        tail = [f"{r['compile_s']:.1f}", device, date, cmd]
        if r.get("jaxmarl_map"):
            impl = "JaxMARL SMAX (HeuristicEnemySMAX)" if r["impl"] == "jaxmarl" else "ours (envs.smaxv2)"
            ratio = f"{r['vs_jaxmarl']:.2f}" if r.get("vs_jaxmarl") else ("1 (reference)" if r["impl"] == "jaxmarl"
                                                                          else "n/a")
            name = r["task"].split(":", 1)[-1]
            smax_lines.append("| " + " | ".join([name, impl, *common, ratio, *tail]) + " |")
        else:
            env_lines.append("| " + " | ".join([r["task"], *common, f"{r['episodes_per_call']:,}", *tail]) + " |")
    text = path.read_text() if path.exists() else "# Benchmarks (speed)\n"
    if env_lines:
        text = insert_rows(text, ENV_SECTION, ENV_HEADER, env_lines)
    if smax_lines:
        text = insert_rows(text, SMAX_SECTION, SMAX_HEADER, smax_lines)
    path.write_text(text)


def main(argv: list[str] | None = None) -> list[dict]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    try:
        check_config(args.tasks, args.num_envs, args.steps, args.reps)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    device = device_name()
    print(f"device {device}, jax {jax.__version__}, {args.num_envs} envs x {args.steps} steps, {args.reps} reps")
    rows, jaxmarl_error = run(args)
    if jaxmarl_error:
        print(f"JaxMARL not run: cannot import jaxmarl ({jaxmarl_error}); `make bench-envs` installs it")
    print_table(rows, device, args)
    if args.json:
        payload = {"device": device, "jax": jax.__version__, "command": command(args),
                   "date": dt.date.today().isoformat(), "jaxmarl_error": jaxmarl_error,
                   "rows": rows}
        if not jaxmarl_error and any(r["impl"] == "jaxmarl" for r in rows):
            import jaxmarl

            payload["jaxmarl"] = jaxmarl.__version__
        args.json.write_text(json.dumps(payload, indent=1))
    if args.record:
        record(rows, args, device)
    return rows


if __name__ == "__main__":
    main()
