"""Env steps per second of a multi-agent MuJoCo task for each Brax backend (CPU or any device).

Each backend: build the task, `jax.jit` a vmapped `lax.scan` of `--steps` random-action steps over
`--batch` environments (auto-reset included), compile it once (timed separately), then time `--reps`
runs and report env steps/s (batch * steps / seconds, best of reps).

    python -m experiments.bench_mabrax_backends --task ant_4x2 --batch 64 --steps 100
"""

from __future__ import annotations

import argparse
import platform
import time

import jax

import envs


def bench(task: str, backend: str, batch: int, steps: int, reps: int) -> dict:
    env = envs.AutoReset(envs.make(task, backend=backend))
    params = env.default_params()
    spec = env.spec(params)

    def run(key):
        k0, k1 = jax.random.split(key)
        state, _ = env.reset(k0, params)

        def body(state, key):
            ka, ks = jax.random.split(key)
            action = jax.random.uniform(ka, spec.action_shape(), minval=-1.0, maxval=1.0)
            state, ts = env.step(ks, state, action, params)
            return state, ts.reward[0]

        _, rewards = jax.lax.scan(body, state, jax.random.split(k1, steps))
        return rewards.sum()

    fn = jax.jit(jax.vmap(run))
    keys = jax.random.split(jax.random.PRNGKey(0), batch)
    t0 = time.perf_counter()
    jax.block_until_ready(fn(keys))
    compile_s = time.perf_counter() - t0
    best = float("inf")
    for r in range(reps):
        keys = jax.random.split(jax.random.PRNGKey(r + 1), batch)
        t0 = time.perf_counter()
        jax.block_until_ready(fn(keys))
        best = min(best, time.perf_counter() - t0)
    return {"backend": backend, "compile_s": compile_s, "steps_per_s": batch * steps / best}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="ant_4x2")
    p.add_argument("--backends", default="positional,generalized,mjx")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()
    dev = jax.devices()[0]
    print(f"task={a.task} batch={a.batch} steps={a.steps} device={dev.platform}:{dev.device_kind} "
          f"jax={jax.__version__} host={platform.machine()}")
    print(f"{'backend':<12} {'compile s':>10} {'env steps/s':>12}")
    for backend in a.backends.split(","):
        r = bench(a.task, backend, a.batch, a.steps, a.reps)
        print(f"{r['backend']:<12} {r['compile_s']:>10.1f} {r['steps_per_s']:>12,.0f}", flush=True)
        jax.clear_caches()


if __name__ == "__main__":
    main()
