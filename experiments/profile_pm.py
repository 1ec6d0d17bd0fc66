"""Where the Policy Modifier's time goes: its forward and backward pass on one minibatch, built up part by part
(BENCHMARKS.md, "AgentMixer forms").

    python -m experiments.profile_pm --task predator_prey_authors_p1 --algo agentmixer_authors
    python -m experiments.profile_pm --task ant_4x2 --algo agentmixer_authors

The PM of `--algo` at the task's preset (widths, agents, its input features) runs on `--seeds` vmapped seeds x
one PPO minibatch of random features, and each variant's program (the gradient of a scalar of its output with
respect to its parameters, as in the PPO epochs) is timed over `--repeats` interleaved rounds:

    input      the PM without its mixing blocks: input layer(s), final LayerNorm, output layer
    +channel   ... + the channel-mixing MLP
    +agent     ... + the agent-mixing MLP (instead of the channel-mixing one)
    whole      the PM (both)

The parts are the PM itself with fewer mixing layers (`PolicyModifier.mixing`), for either architecture
(`pm_arch`: ours, or the authors' with its input encoders).

XLA's FLOPs and bytes accessed of each program are printed beside its time (load-independent).
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import tyro


@dataclasses.dataclass
class Args:
    task: str = "predator_prey_authors_p1"
    algo: str = "agentmixer_authors"
    seeds: int = 8
    repeats: int = 7


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv)
    import jax
    import jax.numpy as jnp

    import agentmixer_jax  # noqa: F401  (its XLA CPU flag, before any array exists)
    import envs
    from agentmixer_jax import registry
    from experiments.cost_per_update import xla_cost
    from experiments.presets import env_kwargs, preset

    env = envs.make(args.task, **env_kwargs(args.task))
    cfg, _ = preset(args.task, args.algo)
    policy = registry.make_policy(args.algo, env.spec(), cfg)
    if not hasattr(policy, "pm"):
        raise SystemExit(f"--algo: {args.algo} has no Policy Modifier")
    params = policy.init(jax.random.PRNGKey(0))
    obs, state, mask = policy.dummy_inputs()
    _, out = policy.actor_step(params, policy.initial_hidden(), obs, mask, jnp.bool_(True))
    feature = policy.pm_features(out, jnp.zeros_like(out.head), state, mask)  # (N, F)
    batch = cfg.num_envs * cfg.num_steps // cfg.num_minibatches
    x = jax.random.normal(jax.random.PRNGKey(1), (args.seeds, batch) + feature.shape)
    print(f"{args.task} {args.algo}: PM ({policy.pm.arch}) of {policy.pm.channels} channels over {feature.shape[0]} "
          f"agents, {feature.shape[1]} input features; {args.seeds} seeds x {batch} samples per minibatch", flush=True)

    pm = policy.pm
    modules = {"input": pm.clone(mixing=""), "+channel": pm.clone(mixing="c"), "+agent": pm.clone(mixing="a"),
               "whole": pm}
    programs, result = {}, {}
    for name, module in modules.items():
        p = module.init(jax.random.PRNGKey(0), feature)["params"]
        p = jax.tree.map(lambda a: jnp.broadcast_to(a, (args.seeds,) + a.shape), p)

        def loss(p, xs, module=module):
            return jnp.sum(jnp.tanh(jax.vmap(lambda f: module.apply({"params": p}, f))(xs)))

        program = jax.jit(jax.vmap(jax.grad(loss)))
        compiled = program.lower(p, x).compile()
        result[name] = {**xla_cost(compiled), "times": []}
        jax.block_until_ready(compiled(p, x))
        programs[name] = (compiled, p)
    for _ in range(args.repeats):
        for name, (compiled, p) in programs.items():
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(p, x))
            result[name]["times"].append(time.perf_counter() - t0)
    whole = statistics.median(result["whole"]["times"])
    for name, r in result.items():
        r["median_s"] = statistics.median(r["times"])
        print(f"{name:9s} {r['median_s'] * 1e3:9.1f} ms ({r['median_s'] / whole:.2f} of the whole PM)  "
              f"{r['flops']:.2e} FLOPs ({r['flops'] / result['whole']['flops']:.2f})  "
              f"{r['bytes']:.2e} bytes ({r['bytes'] / result['whole']['bytes']:.2f})", flush=True)
    return result


if __name__ == "__main__":
    main()
