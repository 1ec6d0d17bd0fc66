"""What a scan saves: G settings x S seeds in ONE program (agentmixer_jax.scan) against G separate programs of S seeds
(what G `experiments.train` runs do), side by side in one process.

    python -m experiments.bench_scan --env predator_prey_p1 --algo agentmixer --settings 8 --seeds 16 --updates 4

Rows (BENCHMARKS.md, "Hyperparameter scans"):
- scan: compile once (its compile count from the scan), train G x S runs in one vmapped program;
- separate: for each setting, clear JAX's caches (a new process compiles from scratch, as each CLI run does),
  compile, train S runs; summed over the G settings.
Ratios: end-to-end (compile + training) and training alone. The settings are G learning rates (traced); the
persistent compilation cache is off for both, so every compile is a real one.
"""

from __future__ import annotations

import dataclasses
import time

import tyro


@dataclasses.dataclass
class Args:
    env: str = "predator_prey_p1"
    algo: str = "agentmixer"
    settings: int = 8
    """G: learning rates spread log-uniformly over [1e-4, 3e-3]."""
    seeds: int = 16
    """S: seeds per setting."""
    updates: int = 4
    """Updates per run (the preset's rollout size each)."""


def main(argv: list[str] | None = None) -> dict:
    import jax
    import numpy as np

    import agentmixer_jax  # noqa: F401

    jax.config.update("jax_enable_compilation_cache", False)
    import envs
    from agentmixer_jax.scan import scan
    from agentmixer_jax.trainer import Seeds, Trainer
    from experiments.presets import env_kwargs, preset

    args = tyro.cli(Args, args=argv)
    lrs = [float(x) for x in np.geomspace(1e-4, 3e-3, args.settings)]
    cfg, hp = preset(args.env, args.algo)
    cfg = dataclasses.replace(cfg, total_env_steps=args.updates * cfg.batch_size)
    steps = args.settings * args.seeds * cfg.total_env_steps

    jax.clear_caches()
    t0 = time.perf_counter()
    result = scan(args.env, args.algo, {"lr": lrs}, args.seeds, config={"total_env_steps": cfg.total_env_steps},
                  out=False, progress=False)
    scan_total = time.perf_counter() - t0
    scan_train = result.info["wall_seconds"]
    scan_compile = result.info["compile_seconds"]

    sep_compile = sep_train = 0.0
    env = envs.make(args.env, **env_kwargs(args.env))
    for lr in lrs:
        jax.clear_caches()
        seeds = Seeds(Trainer(env, cfg), args.seeds)
        t0 = time.perf_counter()
        seeds.compile(hp.replace(lr=lr), (cfg.num_updates,))
        sep_compile += time.perf_counter() - t0
        t0 = time.perf_counter()
        state = seeds.init(seeds.keys(0), hp.replace(lr=lr))
        state, metrics, finite = seeds.run(state, cfg.num_updates)
        jax.block_until_ready(seeds.evaluate(state))
        sep_train += time.perf_counter() - t0
    sep_total = sep_compile + sep_train
    out = {"env": args.env, "algo": args.algo, "G": args.settings, "S": args.seeds, "updates": cfg.num_updates,
           "env_steps": steps, "scan_compiles": result.compiles, "scan_compile_s": scan_compile,
           "scan_train_s": scan_train, "scan_total_s": scan_total, "separate_compiles": args.settings,
           "separate_compile_s": sep_compile, "separate_train_s": sep_train, "separate_total_s": sep_total,
           "ratio_total": sep_total / scan_total, "ratio_train": sep_train / scan_train}
    print(f"| {jax.devices()[0].device_kind} | {args.env} | {args.algo} | {args.settings} x {args.seeds} | "
          f"{cfg.num_updates} x {cfg.batch_size:,} | 1 compile {scan_compile:.1f} s + train {scan_train:.1f} s "
          f"({steps / scan_train:,.0f} steps/s) | {args.settings} compiles {sep_compile:.1f} s + train "
          f"{sep_train:.1f} s ({steps / sep_train:,.0f} steps/s) | {out['ratio_total']:.2f}x | "
          f"{out['ratio_train']:.2f}x |")
    return out


if __name__ == "__main__":
    main()
