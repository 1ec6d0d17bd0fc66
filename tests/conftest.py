"""Import agentmixer_jax before any test touches JAX, so its XLA CPU flag (seed-count invariance) is in force."""

import agentmixer_jax  # noqa: F401
