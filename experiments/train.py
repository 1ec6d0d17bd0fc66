"""Train one algorithm on one task over many seeds at once (one compile, vmapped seeds).

    python -m experiments.train --env climbing --algo agentmixer --seeds 1024 --out runs/x
    python -m experiments.train --env penalty --algo mappo --seeds 256 --hp.lr 1e-3 --config.update-epochs 8
    python -m experiments.train --help

Writes OUT/summary.json (env, algo, seeds, env_steps_per_seed, wall_seconds, steps_per_second, and
`eval` with per-seed lists from decentralised mode actions), OUT/metrics.npz (per-update training
curves, seed-averaged and per seed) and OUT/params (every seed's final parameters, an orbax checkpoint:
`agentmixer_jax.checkpoint.load_run(OUT)`), prints a results table, and with --wandb logs to Weights & Biases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path
from typing import Literal

import tyro

from agentmixer_jax.config import HParams, TrainConfig

# Renames of env info scalars in summary.json, as DESIGN.md names them.
EVAL_NAMES = {"won": "win_rate", "success": "success_rate"}


@dataclasses.dataclass
class Args:
    """Train AgentMixer or a baseline on a task, vmapped over seeds, and write OUT/summary.json."""

    env: str = "climbing"
    """Task name, e.g. climbing, penalty (see `--list-envs`)."""
    algo: Literal["agentmixer", "mappo", "ippo", "ail"] = "agentmixer"
    """Algorithm: agentmixer (joint policy via the Policy Modifier), mappo (centralised critic), ippo, ail
    (a centralised expert imitated by the individual policies; its own score is reported as expert_*)."""
    seeds: int = 1024
    """Independent training runs, vmapped in one compiled program."""
    seed: int = 0
    """Base PRNG seed; run i uses fold_in(PRNGKey(seed), i)."""
    out: Path | None = None
    """Output folder (default runs/<env>_<algo>_<timestamp>)."""
    wandb: bool = False
    """Log to Weights & Biases (offline when no WANDB_API_KEY is set; never stops training)."""
    wandb_project: str = "agentmixer-jax"
    """wandb project name."""
    progress: bool = True
    """Show a progress bar (updated every config.log_every updates through one host callback)."""
    checkpoint: bool = True
    """Save every seed's final parameters to OUT/params (orbax); `agentmixer_jax.checkpoint.load_run(OUT)`
    reads the run back for evaluation and playback."""
    list_envs: bool = False
    """Print the registered tasks and exit."""
    env_kw: tuple[str, ...] = ()
    """Environment constructor arguments as KEY=VALUE (Python literals), e.g. `--env-kw obsk=2 backend=mjx`;
    they override the preset's (MaMuJoCo tasks default to the paper's obsk=2)."""


def _parse(argv: list[str]):
    """Two passes: read --env/--algo, load that preset, then parse everything with preset defaults."""
    import envs
    from experiments.presets import preset

    probe = {"env": "climbing", "algo": "agentmixer"}
    for i, tok in enumerate(argv):
        for name in probe:
            if tok == f"--{name}" and i + 1 < len(argv):
                probe[name] = argv[i + 1]
            elif tok.startswith(f"--{name}="):
                probe[name] = tok.split("=", 1)[1]
    if "--list-envs" in argv:
        print("\n".join(envs.registered_tasks()))
        raise SystemExit(0)
    if probe["env"] not in envs.registered_tasks():
        envs.make(probe["env"])  # raises the ValueError listing known envs
    algo = probe["algo"] if probe["algo"] in ("agentmixer", "mappo", "ippo", "ail") else "agentmixer"
    cfg, hp = preset(probe["env"], algo)

    @dataclasses.dataclass
    class FullArgs(Args):
        config: TrainConfig = dataclasses.field(default_factory=lambda: cfg)
        """Static training configuration (sizes, steps, networks); preset per env."""
        hp: HParams = dataclasses.field(default_factory=lambda: hp)
        """Traced hyperparameters (sweepable without recompiling)."""

    FullArgs.__doc__ = Args.__doc__
    args = tyro.cli(FullArgs, args=argv)
    args.config = dataclasses.replace(args.config, algo=args.algo)
    return args


def parse_env_kw(items: tuple[str, ...]) -> dict:
    """("obsk=2", "backend='mjx'") -> {"obsk": 2, "backend": "mjx"}; bare words are strings."""
    import ast

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--env-kw {item!r}: write KEY=VALUE, e.g. obsk=2")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def ci95(values) -> float:
    """Half-width of a normal-approximation 95% interval of the mean."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    return float(1.96 * v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parse(argv)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err

    import jax
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    import envs
    from agentmixer_jax.config import validate_hparams
    from agentmixer_jax.reporting import Reporter, WandbLogger
    from agentmixer_jax.runner import make_train
    from experiments.presets import env_kwargs

    console = Console(file=sys.stderr)
    try:
        env_kw = {**env_kwargs(args.env), **parse_env_kw(args.env_kw)}
        if args.seeds < 1:
            raise ValueError(f"--seeds {args.seeds} must be >= 1")
        env = envs.make(args.env, **env_kw)
        cfg = args.config.validate()
        validate_hparams(args.hp)
    except (ValueError, TypeError) as err:  # TypeError: an --env-kw the task does not take
        console.print(f"[red]error:[/red] {err}")
        raise SystemExit(2) from err

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("runs") / f"{args.env}_{args.algo}_{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    env_steps = cfg.num_updates * cfg.batch_size
    console.print(f"[bold]{args.algo}[/bold] on [bold]{args.env}[/bold]: {args.seeds} seeds x {env_steps:,} env steps "
                  f"({cfg.num_updates} updates of {cfg.num_envs} envs x {cfg.num_steps} steps) on "
                  f"{jax.devices()[0].platform.upper()}; output in {out}")

    run_config = {"env": args.env, "env_kw": env_kw, "algo": args.algo, "seeds": args.seeds,
                  "config": dataclasses.asdict(cfg),
                  "hparams": {k: float(getattr(args.hp, k)) for k in args.hp.names()}}
    wandb = WandbLogger(args.wandb_project, out.name, run_config, str(out), console) if args.wandb else None
    reporter = Reporter(cfg.num_updates, cfg.batch_size * args.seeds, f"{args.algo}/{args.env}", wandb, console,
                        show=args.progress)
    train = make_train(env, cfg, reporter=reporter)
    base = jax.random.PRNGKey(args.seed)
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(np.arange(args.seeds))
    hp = args.hp.as_floats()

    t0 = time.perf_counter()
    compiled = jax.jit(jax.vmap(train, in_axes=(0, None))).lower(keys, hp).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with reporter:
        result = compiled(keys, hp)
        jax.block_until_ready(result)
    wall = time.perf_counter() - t0

    evals = {k: np.asarray(v) for k, v in result.eval.items()}
    eval_summary = {"return_per_seed": evals.pop("return").tolist(), "length_per_seed": evals.pop("length").tolist()}
    prefixes = sorted(train.algo.eval_policies(), key=len, reverse=True)  # "" last; e.g. AIL's "expert_"
    for k, v in evals.items():
        prefix = next(p for p in prefixes if k.startswith(p))
        base = k.removeprefix(prefix)
        eval_summary[f"{prefix}{EVAL_NAMES.get(base, base)}_per_seed"] = v.tolist()
    summary = {
        "env": args.env, "env_kw": run_config["env_kw"], "algo": args.algo, "seeds": args.seeds, "seed": args.seed,
        "env_steps_per_seed": env_steps,
        "wall_seconds": wall, "compile_seconds": compile_s,
        "steps_per_second": args.seeds * env_steps / wall,
        "device": str(jax.devices()[0].device_kind), "date": dt.date.today().isoformat(),
        "command": "python -m experiments.train " + " ".join(argv),
        "config": run_config["config"], "hparams": run_config["hparams"], "eval": eval_summary,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    metrics = {k: np.asarray(v) for k, v in result.metrics.items()}
    np.savez_compressed(out / "metrics.npz", **{f"{k}_per_seed": v for k, v in metrics.items()},
                        **{k: v.mean(0) for k, v in metrics.items()})
    if args.checkpoint:
        from agentmixer_jax.checkpoint import save_params

        save_params(out, result.params)

    table = Table(title=f"{args.algo} on {args.env}: decentralised greedy evaluation, {args.seeds} seeds")
    for col in ("metric", "mean", "95% CI", "min", "max"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for k, v in eval_summary.items():
        a = np.asarray(v)
        table.add_row(k.removesuffix("_per_seed"), f"{a.mean():.3f}", f"± {ci95(a):.3f}", f"{a.min():.3f}",
                      f"{a.max():.3f}")
    if "optimal_per_seed" in eval_summary:
        frac = float(np.mean(np.asarray(eval_summary["optimal_per_seed"]) > 0.5))
        table.add_row("seeds at the optimum", f"{frac:.3f}", "", "", "")
    Console().print(table)
    console.print(f"compile {compile_s:.1f} s, run {wall:.1f} s, {summary['steps_per_second']:,.0f} env steps/s; "
                  f"wrote {out / 'summary.json'}")
    if wandb is not None:
        wandb.summary({"wall_seconds": wall, "eval/return_mean": float(np.mean(eval_summary["return_per_seed"]))})
    return summary


if __name__ == "__main__":
    main()
