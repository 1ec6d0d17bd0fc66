"""Test session set-up.

- agentmixer_jax is imported before any test touches JAX, so its XLA CPU flag (seed-count invariance) is in force.
- JAX's persistent compilation cache is on for the session (a fresh folder per session, also handed to the
  subprocesses some tests start): many tests compile the same small programs again, from other processes or
  other CLI runs, and then load them instead. Set AGENTMIXER_JAX_TEST_CACHE=0 to compile everything.
"""

import os
import tempfile

import jax

import agentmixer_jax  # noqa: F401

if os.environ.get("AGENTMIXER_JAX_TEST_CACHE", "1") != "0":
    _cache = os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="agentmixer_jax_jit_"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
