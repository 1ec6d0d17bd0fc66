"""Training throughput of our MAPPO against JaxMARL's published MAPPO baseline on JaxMARL's own SMAX map, side by
side in one process (issue 17's held-out comparison, BENCHMARKS.md).

    python -m experiments.bench_vs_jaxmarl --jaxmarl-repo PATH/TO/JaxMARL --variants jaxmarl jaxmarl_inputs

Theirs: `baselines/MAPPO/mappo_rnn_smax.py` of a JaxMARL checkout (`--jaxmarl-repo`; nothing of it is copied here),
its `make_train` with its own `config/mappo_homogenous_rnn_smax.yaml` (MAP_NAME set to `--map`, TOTAL_TIMESTEPS to
`--updates` updates, WANDB_MODE disabled), `jax.jit(jax.vmap(train))` over `--seeds` keys, as their script runs
one key. Its imports of hydra and omegaconf (used only by its `main`) are stubbed when those are not installed.
Ours: `experiments.train`'s run of each `--variants` entry of `experiments.ablate_networks` on `jaxmarl_<map>`
(envs/jaxmarl_smax.py), at the same envs x steps x updates and seeds, timed as init + the updates (no evaluation).
Each program is compiled and run once untimed, then `--repeats` interleaved rounds; reported: median env steps/s
and the ratio to JaxMARL's. Both run under agentmixer_jax's XLA:CPU flag (YNNPACK fusion off, see
agentmixer_jax/__init__.py); `AGENTMIXER_JAX_KEEP_XLA_FLAGS=1` runs both with XLA's default instead. Needs the
`bench` extra (jaxmarl, gymnax, safetensors: `make bench-envs` installs it) and distrax.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import statistics
import sys
import types
from pathlib import Path

import tyro


@dataclasses.dataclass
class Args:
    jaxmarl_repo: Path  # a checkout of FLAIROx/JaxMARL (its baselines/ are not in the pip package)
    map: str = "smacv2_5_units"
    variants: tuple[str, ...] = ("jaxmarl", "jaxmarl_inputs")  # experiments.ablate_networks VARIANTS
    seeds: int = 4
    updates: int = 3
    repeats: int = 3


def _theirs(repo: Path, map_name: str, seeds: int, updates: int):
    """(whole_run, env steps per run): JaxMARL's MAPPO training program, compiled."""
    import jax
    import yaml

    for name in ("hydra", "omegaconf"):  # used only by the script's `main`
        if importlib.util.find_spec(name) is None:
            stub = types.ModuleType(name)
            stub.main = lambda **kw: (lambda fn: fn)
            stub.OmegaConf = None
            sys.modules[name] = stub
    script = repo / "baselines" / "MAPPO" / "mappo_rnn_smax.py"
    spec = importlib.util.spec_from_file_location("jaxmarl_mappo_rnn_smax", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import wandb

    wandb.init(mode="disabled")  # their per-update callback logs to wandb
    config = yaml.safe_load((script.parent / "config" / "mappo_homogenous_rnn_smax.yaml").read_text())
    batch = config["NUM_ENVS"] * config["NUM_STEPS"]
    config.update(MAP_NAME=map_name, TOTAL_TIMESTEPS=updates * batch, WANDB_MODE="disabled")
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    compiled = jax.jit(jax.vmap(module.make_train(config))).lower(keys).compile()

    def whole_run():
        jax.block_until_ready(compiled(keys))

    return whole_run, seeds * updates * batch, config


def _ours(task: str, variant: str, seeds: int, updates: int):
    """(whole_run, env steps per run, TrainConfig): our MAPPO with an ablation variant's overrides, compiled."""
    import jax

    import envs
    from agentmixer_jax.trainer import Seeds, Trainer
    from experiments import ablate_networks
    from experiments.train import _parse

    parsed = _parse(ablate_networks.train_argv(ablate_networks.Args(seeds=seeds), task, variant))
    cfg = dataclasses.replace(parsed.config, total_env_steps=parsed.config.batch_size * updates, log_every=0)
    prog = Seeds(Trainer(envs.make(task), cfg), seeds)
    hp = parsed.hp.as_floats()
    prog.compile(hp, (updates,))

    def whole_run():
        state = prog.init(prog.keys(0), hp)
        state, metrics, finite = prog.run(state, updates)
        jax.device_get((metrics, finite))

    return whole_run, seeds * updates * cfg.batch_size, cfg


def main(argv: list[str] | None = None) -> list[dict]:
    args = tyro.cli(Args, args=argv)
    import agentmixer_jax  # noqa: F401  (before JAX starts: its XLA:CPU flag then holds for both trainers)
    from envs.jaxmarl_smax import register_tasks
    from experiments.bench_networks import time_rounds
    from experiments.benchmarks_md import device_name

    register_tasks()
    task = f"jaxmarl_{args.map}"
    programs = {"JaxMARL MAPPO": _theirs(args.jaxmarl_repo, args.map, args.seeds, args.updates)}
    theirs_cfg = programs["JaxMARL MAPPO"][2]
    for variant in args.variants:
        programs[f"ours ({variant})"] = _ours(task, variant, args.seeds, args.updates)
        cfg = programs[f"ours ({variant})"][2]
        if (cfg.num_envs, cfg.num_steps) != (theirs_cfg["NUM_ENVS"], theirs_cfg["NUM_STEPS"]):
            raise SystemExit(f"{variant}: {cfg.num_envs} envs x {cfg.num_steps} steps, JaxMARL's config "
                             f"{theirs_cfg['NUM_ENVS']} x {theirs_cfg['NUM_STEPS']}: not the same batch")
    for name, (run, _, _) in programs.items():
        run()  # untimed: first-run effects
        print(f"compiled and ran {name}", flush=True)
    times = time_rounds({n: run for n, (run, _, _) in programs.items()}, args.repeats)
    names = list(programs)
    rows = []
    reference = programs[names[0]][1] / statistics.median(times[names[0]])
    for n in names:
        sps = programs[n][1] / statistics.median(times[n])
        rows.append({"trainer": n, "seeds x envs x steps x updates": f"{args.seeds} x {theirs_cfg['NUM_ENVS']} x "
                     f"{theirs_cfg['NUM_STEPS']} x {args.updates}", "env steps/s": f"{sps:,.0f}",
                     "ratio to JaxMARL": f"{sps / reference:.2f}", "device": device_name(),
                     "times (s)": " ".join(f"{t:.1f}" for t in times[n])})
    from experiments.results_table import format_markdown

    print(format_markdown(rows))
    return rows


if __name__ == "__main__":
    main()
