"""XLA's cost analysis of one compiled training update per algorithm, with ratios to the first (BENCHMARKS.md).

    python -m experiments.cost_per_update --task predator_prey_authors_p1 \
        --algos mappo agentmixer agentmixer_authors agentmixer_joint agentmixer_ar
    python -m experiments.cost_per_update --algos mappo agentmixer_authors --config pm_arch=mixer pm_channels=16

FLOPs and bytes accessed of `Trainer.run(state, 1)` at the task's preset, from `compiled.cost_analysis()`: a
load-independent proxy for the cost of each algorithm (wall time needs a quiet machine: experiments.bench_algos).
XLA counts each loop body once whatever its trip count, so this is one acting step of the rollout plus one
minibatch's loss and gradient (and the program outside its loops), not the whole update.
"""

from __future__ import annotations

import dataclasses

import tyro


@dataclasses.dataclass
class Args:
    task: str = "predator_prey_authors_p1"
    algos: tuple[str, ...] = ("mappo", "agentmixer", "agentmixer_authors", "agentmixer_joint", "agentmixer_ar")
    config: tuple[str, ...] = ()
    """TrainConfig fields over every algorithm's preset, KEY=VALUE (e.g. pm_channels=16)."""


def cost(task: str, algo: str, config: dict | None = None) -> dict[str, float]:
    """{"flops", "bytes"} of one update of `algo` on `task` at its preset, with the TrainConfig fields `config`."""
    import jax

    import envs
    from agentmixer_jax.trainer import Trainer
    from experiments.presets import env_kwargs, preset

    cfg, hp = preset(task, algo)
    unknown = set(config or {}) - {f.name for f in dataclasses.fields(cfg)}
    if unknown:
        raise SystemExit(f"--config: no TrainConfig field {', '.join(sorted(unknown))}")
    cfg = dataclasses.replace(cfg, **(config or {}))
    trainer = Trainer(envs.make(task, **env_kwargs(task)), cfg)
    state = jax.eval_shape(trainer.init, jax.random.PRNGKey(0), hp)
    return xla_cost(jax.jit(lambda s: trainer.run(s, 1)).lower(state).compile())


def xla_cost(compiled) -> dict[str, float]:
    """{"flops", "bytes"} of a compiled program by XLA's cost analysis (each loop body counted once)."""
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list) else analysis
    return {"flops": float(analysis.get("flops", float("nan"))),
            "bytes": float(analysis.get("bytes accessed", float("nan")))}


def main(argv: list[str] | None = None) -> list[dict]:
    from experiments.scan import parse_pairs

    args = tyro.cli(Args, args=argv)
    config = parse_pairs(args.config, "config")
    rows, ref = [], None
    for algo in args.algos:
        c = cost(args.task, algo, config)
        ref = ref or c
        rows.append({"algo": algo, **c})
        print(f"{args.task} {algo}: {c['flops']:.3e} FLOPs ({c['flops'] / ref['flops']:.2f}x), "
              f"{c['bytes']:.3e} bytes ({c['bytes'] / ref['bytes']:.2f}x)", flush=True)
    return rows


if __name__ == "__main__":
    main()
