"""A hyperparameter scan from the command line (the notebook experiments/notebooks/scan.ipynb does the same in Python).

    python -m experiments.scan --env predator_prey_p1 --algo agentmixer --seeds 16 \\
        --grid lr=3e-4,1e-3 ent_coef=0,0.01 pm_lr=5e-4,2e-3 --config total_env_steps=128000 --out runs/scan_pp

Every traced hyperparameter setting x seed runs in one compiled program (agentmixer_jax/scan.py); config fields in
the grid (`--grid num_minibatches=1,2`) run as one program per combination. Prints the per-setting table (IQM and
mean of the decentralised greedy return with 95% stratified-bootstrap CIs, rliable) and the best setting as an
`experiments.train` command. Exit codes: 0 done, 2 bad input (nothing compiled).
"""

from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

import tyro


@dataclasses.dataclass
class Args:
    """Scan hyperparameters x seeds of one algorithm on one task in one compiled program."""

    env: str = "climbing"
    """Task name (see `python -m experiments.train --list-envs`)."""
    algo: str = "agentmixer"
    """Algorithm name (see `python -m experiments.train --help`)."""
    grid: tuple[str, ...] = ("lr=3e-4,1e-3",)
    """NAME=V1,V2,... per scanned field: HParams names are traced (one program), TrainConfig fields static."""
    seeds: int = 16
    """Seeds per setting (seed i of every setting starts from the same key)."""
    seed: int = 0
    """Base PRNG seed, as experiments.train's --seed."""
    network: str = "preset"
    """Network setup over the env preset (preset, authors, jaxmarl), as experiments.train's --network."""
    config: tuple[str, ...] = ()
    """Fixed TrainConfig overrides KEY=VALUE (Python literals), e.g. total_env_steps=128000."""
    hp: tuple[str, ...] = ()
    """Fixed HParams overrides KEY=VALUE, e.g. gamma=0.95."""
    env_kw: tuple[str, ...] = ()
    """Environment constructor arguments KEY=VALUE."""
    out: Path | None = None
    """Scan folder (default runs/scan_<env>_<algo>_<timestamp>)."""
    overwrite: bool = False
    """Replace an earlier scan in --out."""
    eval_every: int = 0
    """Also evaluate the greedy policies every this many updates (each setting's eval_curve.npz)."""
    metric: str = "return"
    """Score that ranks the settings (a column of the table: return, win_rate, success_rate, ...)."""
    wandb: bool = False
    """One wandb run per setting, grouped by the scan (offline without WANDB_API_KEY)."""
    progress: bool = True


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_pairs(items: tuple[str, ...], what: str) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--{what} {item!r}: write KEY=VALUE, e.g. lr=1e-3")
        out[key] = _literal(value)
    return out


def parse_grid(items: tuple[str, ...]) -> dict[str, list]:
    """("lr=1e-4,1e-3", "hidden_sizes=(64,64),(128,128)") -> {"lr": [1e-4, 1e-3], "hidden_sizes": [...]}."""
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.isidentifier() or not values:
            raise ValueError(f"--grid {item!r}: write NAME=V1,V2,..., e.g. lr=3e-4,1e-3")
        parsed = _literal(f"[{values}]")
        grid[key] = parsed if isinstance(parsed, list) else [parsed]
    return grid


def main(argv: list[str] | None = None):
    from rich.console import Console
    from rich.table import Table

    import agentmixer_jax  # noqa: F401  (its XLA flags before any JAX array)
    from agentmixer_jax.scan import ScanError, scan

    args = tyro.cli(Args, args=sys.argv[1:] if argv is None else argv)
    console = Console(stderr=True, soft_wrap=True)
    try:
        result = scan(args.env, args.algo, parse_grid(args.grid), args.seeds, seed=args.seed, network=args.network,
                      config=parse_pairs(args.config, "config"), hp=parse_pairs(args.hp, "hp"),
                      env_kw=parse_pairs(args.env_kw, "env-kw"), out=args.out, overwrite=args.overwrite,
                      eval_every=args.eval_every, progress=args.progress, wandb=args.wandb, console=console)
    except (ScanError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise SystemExit(2) from err
    if args.metric not in result.table:
        console.print(f"[red]error:[/red] --metric {args.metric}: not in the table; choose one of "
                      f"{', '.join(result.metrics)}", highlight=False)
        raise SystemExit(2)
    summary = result.summary(args.metric)
    table = Table(title=f"{args.algo} on {args.env}: decentralised greedy {args.metric}, {args.seeds} seeds per "
                        "setting, IQM and mean with 95% stratified-bootstrap CIs (rliable)")
    for col in ("setting", *result.info["grid"], "seeds", "IQM [95% CI]", "mean [95% CI]"):
        table.add_column(col, justify="right")
    for _, row in summary.iterrows():
        table.add_row(str(int(row["setting"])), *(f"{row[k]:g}" if isinstance(row[k], float) else str(row[k])
                                                  for k in result.info["grid"]),
                      f"{int(row['seeds'])}" + (f" ({int(row['diverged'])} diverged)" if row["diverged"] else ""),
                      f"{row['iqm']:.3f} [{row['iqm_low']:.3f}, {row['iqm_high']:.3f}]",
                      f"{row['mean']:.3f} [{row['mean_low']:.3f}, {row['mean_high']:.3f}]")
    Console().print(table)
    best = result.best(args.metric)
    Console().print(f"best (IQM {best['iqm']:.3f} [{best['low']:.3f}, {best['high']:.3f}]): {best['values']}\n"
                    f"  {best['command']}", highlight=False, soft_wrap=True)
    return result


if __name__ == "__main__":
    main()
