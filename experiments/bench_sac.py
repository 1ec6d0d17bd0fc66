"""SAC's speed and memory at a preset (BENCHMARKS.md, issue 13): what a user needs to size a run.

    python -m experiments.bench_sac --task halfcheetah_2x3 --algo masac
    python -m experiments.bench_sac --task predator_prey_authors_p1 --algo agentmixer_sac --seeds 1 8 64

Speed: `Seeds` over `--speed-seeds` seeds, the preset's rollout and gradient steps (the warm-up skipped, so every
timed update learns), `--updates` updates timed after a compiled, untimed first call: training env steps/s and
gradient steps/s over all seeds.

Memory, for each seed count of `--seeds` and buffer size of `--buffer-sizes`:
- state: the bytes of the whole training state (`Seeds.state_shape`, exact: its array shapes), of which the replay
  buffer is the largest part; this is also what a checkpoint with the buffer holds on disk (orbax stores the
  arrays uncompressed), and the state without the buffer is what `--no-checkpoint-buffer` saves;
- temp: XLA's temporary buffers of one compiled update (`compiled.memory_analysis()`), at the first buffer size
  only (the gradient steps' batches, not the buffer, set it).
"""

from __future__ import annotations

import dataclasses
import time

import tyro

import agentmixer_jax  # noqa: F401  (XLA flags before JAX starts)


@dataclasses.dataclass
class Args:
    task: str = "halfcheetah_2x3"
    """Task with a SAC preset (experiments/presets.py)."""
    algo: str = "masac"
    """masac or agentmixer_sac."""
    speed_seeds: int = 4
    """Seeds of the timed run."""
    updates: int = 4
    """Timed updates."""
    seeds: tuple[int, ...] = (1, 8, 64)
    """Seed counts of the memory table."""
    buffer_sizes: tuple[int, ...] = (100_000, 1_000_000)
    """Replay buffer sizes (transitions per seed) of the memory table."""


def tree_bytes(tree) -> int:
    import jax
    import numpy as np

    return int(sum(np.prod(x.shape) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree)))


def main(argv: list[str] | None = None) -> dict:
    import jax

    import envs
    from agentmixer_jax.trainer import Seeds, Trainer
    from experiments.presets import env_kwargs, preset

    args = tyro.cli(Args, args=argv)
    cfg, hp = preset(args.task, args.algo)
    env = envs.make(args.task, **env_kwargs(args.task))
    out = {"task": args.task, "algo": args.algo, "device": jax.devices()[0].device_kind, "memory": []}

    for size in args.buffer_sizes:
        trainer = Trainer(env, dataclasses.replace(cfg, buffer_size=size))
        for s in args.seeds:
            state = Seeds(trainer, s).state_shape(hp)
            row = {"seeds": s, "buffer_size": size, "state_bytes": tree_bytes(state),
                   "buffer_bytes": tree_bytes(state.learner.buffer)}
            if size == args.buffer_sizes[0]:
                seeds = Seeds(trainer, s)
                abstract = jax.eval_shape(seeds._jitted["init"], seeds.keys(0), hp.as_floats())
                mem = seeds._jitted["run"].lower(abstract, 1).compile().memory_analysis()
                row["temp_bytes"] = int(getattr(mem, "temp_size_in_bytes", 0)) if mem is not None else None
            out["memory"].append(row)
            print(row, flush=True)

    speed_cfg = dataclasses.replace(cfg, warmup_steps=0, buffer_size=min(cfg.buffer_size, args.buffer_sizes[0]))
    trainer = Trainer(env, speed_cfg)
    seeds = Seeds(trainer, args.speed_seeds)
    state = seeds.init(seeds.keys(0), hp)
    state, metrics, _ = seeds.run(state, 1)  # compiles; fills the buffer with one rollout
    jax.block_until_ready(metrics)
    t0 = time.perf_counter()
    state, metrics, _ = seeds.run(state, args.updates)
    jax.block_until_ready(metrics)
    wall = time.perf_counter() - t0
    env_steps = args.speed_seeds * args.updates * speed_cfg.batch_size
    grad_steps = args.speed_seeds * args.updates * trainer.learner.grad_steps
    out.update(speed_seeds=args.speed_seeds, updates=args.updates, wall_s=wall, env_steps_per_s=env_steps / wall,
               grad_steps_per_s=grad_steps / wall, batch=speed_cfg.batch_size, grad_steps=trainer.learner.grad_steps,
               sac_batch_size=speed_cfg.sac_batch_size, learning=float(metrics["learning"].mean()))
    print({k: v for k, v in out.items() if k != "memory"}, flush=True)
    return out


if __name__ == "__main__":
    main()
