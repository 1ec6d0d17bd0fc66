"""Shared test helper: a jitted random-policy rollout of a (wrapped) discrete-action environment."""

import jax
import jax.numpy as jnp


def random_rollout(env, params, key, num_envs: int, steps: int):
    """Uniform random available actions in `num_envs` parallel envs for `steps` steps.

    Returns the TimeSteps stacked as (steps, num_envs, ...).
    """

    def run(key):
        k0, k1 = jax.random.split(key)
        state, ts = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k0, num_envs), params)

        def body(carry, k):
            state, ts = carry
            k_act, k_step = jax.random.split(k)
            action = jax.random.categorical(k_act, jnp.where(ts.action_mask, 0.0, -jnp.inf)).astype(jnp.int32)
            state, ts = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_step, num_envs), state, action, params
            )
            return (state, ts), ts

        return jax.lax.scan(body, (state, ts), jax.random.split(k1, steps))[1]

    return jax.jit(run)(key)
