"""Where one update's time goes: the rollout (acting and the critic's values) against the whole update, per
algorithm, side by side in one process (BENCHMARKS.md, "AgentMixer forms").

    python -m experiments.profile_update --task predator_prey_authors_p1 \
        --algos mappo agentmixer agentmixer_authors agentmixer_joint agentmixer_ar

For each algorithm (the task's preset) it compiles two programs over `--seeds` vmapped seeds from the same
initial state: the rollout with its advantages (`learner.collect`) and one whole update (`Trainer.run(state, 1)`),
then times `--repeats` interleaved rounds of both. The learning part's share (PPO's epochs, SAC's gradient steps)
is update - rollout. Ratios are to the first algorithm.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import tyro


@dataclasses.dataclass
class Args:
    task: str = "predator_prey_authors_p1"
    algos: tuple[str, ...] = ("mappo", "agentmixer", "agentmixer_authors", "agentmixer_joint", "agentmixer_ar")
    """The first is the reference of the ratios."""
    seeds: int = 8
    num_envs: int = 0
    """Parallel environments per seed (0: the preset's)."""
    repeats: int = 5


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv)
    import jax

    import agentmixer_jax  # noqa: F401  (its XLA CPU flag, before any array exists)
    import envs
    from agentmixer_jax.trainer import Trainer, seed_keys
    from experiments.presets import env_kwargs, preset

    env = envs.make(args.task, **env_kwargs(args.task))
    programs = {}
    for algo in args.algos:
        cfg, hp = preset(args.task, algo)
        if args.num_envs:
            cfg = dataclasses.replace(cfg, num_envs=args.num_envs)
        trainer = Trainer(env, cfg)
        if not hasattr(trainer.learner, "collect"):
            raise SystemExit(f"--algos: {algo}'s learner has no rollout program (`collect`) to time apart")
        hp = hp.as_floats()
        state = jax.jit(jax.vmap(trainer.init, in_axes=(0, None)))(seed_keys(0, args.seeds), hp)
        learner = trainer.learner
        rollout = jax.jit(jax.vmap(lambda s, learner=learner: learner.collect(s.learner, s.hp)[1:]))
        update = jax.jit(jax.vmap(lambda s, trainer=trainer: trainer.run(s, 1)[0].learner.params))
        jax.block_until_ready((rollout(state), update(state)))  # compile and warm up
        programs[algo] = (rollout, update, state)
    times = {algo: ([], []) for algo in args.algos}
    for _ in range(args.repeats):
        for algo, (rollout, update, state) in programs.items():
            for program, out in zip((rollout, update), times[algo]):
                t0 = time.perf_counter()
                jax.block_until_ready(program(state))
                out.append(time.perf_counter() - t0)
    result, ref = {}, None
    for algo, (roll_t, upd_t) in times.items():
        roll, upd = statistics.median(roll_t), statistics.median(upd_t)
        ref = ref or (roll, upd)
        result[algo] = {"rollout_s": roll, "update_s": upd, "epochs_s": upd - roll}
        print(f"{algo:20s} rollout {roll * 1e3:8.1f} ms ({roll / ref[0]:.2f}x)  update {upd * 1e3:8.1f} ms "
              f"({upd / ref[1]:.2f}x)  epochs {(upd - roll) * 1e3:8.1f} ms ({(upd - roll) / (ref[1] - ref[0]):.2f}x)",
              flush=True)
    return result


if __name__ == "__main__":
    main()
