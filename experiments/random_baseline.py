"""Episode statistics of the uniformly random policy (valid actions only): the floor for learning curves.

    python -m experiments.random_baseline --task ant_4x2 --num-envs 64 --steps 3000
    python -m experiments.random_baseline --task protoss_5v5 --task terran_5v5 --task zerg_5v5

Runs `num_envs` environments for `steps` steps with `EpisodeStats(AutoReset(env))` (the trainer's own
wrappers, `agentmixer_jax.acting.wrap`), drawing random valid actions, and prints the mean of every episode
statistic over the episodes that finished (env kwargs from the presets, e.g. the paper's obsk=2 on MaMuJoCo
tasks).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import tyro

import envs
from agentmixer_jax.acting import wrap
from experiments.bench_envs import sample_valid_actions
from experiments.presets import env_kwargs


def random_policy_stats(task: str, num_envs: int = 64, steps: int = 1000, seed: int = 0, **env_kw) -> dict:
    """Mean episode statistics of the random policy: {"return": ..., "length": ..., <env info>, "episodes": n}."""
    env = wrap(envs.make(task, **{**env_kwargs(task), **env_kw}))
    params = env.default_params()
    discrete = env.spec(params).discrete

    @jax.jit
    def rollout(key):
        k_reset, k_run = jax.random.split(key)
        state, ts = jax.vmap(env.reset, (0, None))(jax.random.split(k_reset, num_envs), params)

        def step(carry, key):
            state, ts, total, count = carry
            k_act, k_env = jax.random.split(key)
            action = sample_valid_actions(k_act, ts.action_mask, discrete)  # (E, N) or (E, N, d)
            state, ts = jax.vmap(env.step, (0, 0, 0, None))(jax.random.split(k_env, num_envs), state, action, params)
            done = ts.info["episode_done"]
            total = jax.tree.map(lambda t, x: t + jnp.sum(jnp.where(done, x, 0.0)), total, ts.info["episode"])
            return (state, ts, total, count + jnp.sum(done)), None

        total0 = jax.tree.map(lambda x: jnp.zeros((), jnp.float32), ts.info["episode"])
        (_, _, total, count), _ = jax.lax.scan(step, (state, ts, total0, jnp.int32(0)), jax.random.split(k_run, steps))
        return total, count

    total, count = rollout(jax.random.PRNGKey(seed))
    n = int(count)
    out = {k: float(v) / max(n, 1) for k, v in total.items()}
    out["episodes"] = n
    return out


@dataclasses.dataclass
class Args:
    """Random-policy episode statistics of registered tasks."""

    task: tuple[str, ...] = ("bridge",)
    """Registered task names."""
    num_envs: int = 64
    """Parallel environments."""
    steps: int = 1000
    """Steps per environment."""
    seed: int = 0
    """PRNG seed."""


def main(argv: list[str] | None = None) -> dict[str, dict]:
    args = tyro.cli(Args, args=argv)
    results = {}
    for task in args.task:
        stats = random_policy_stats(task, args.num_envs, args.steps, args.seed)
        results[task] = stats
        print(task, "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in stats.items() if np.isfinite(v)))
    return results


if __name__ == "__main__":
    main()
