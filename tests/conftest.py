"""Test session set-up.

- agentmixer_jax is imported before any test touches JAX, so its XLA CPU flag (seed-count invariance) is in force.
- JAX's persistent compilation cache is on for the session (a fresh folder per session, also handed to the
  subprocesses some tests start): many tests compile the same small programs again, from other processes or
  other CLI runs, and then load them instead. Set AGENTMIXER_JAX_TEST_CACHE=0 to compile everything.
- XLA compiles at backend optimisation level 0 (`--xla_backend_optimization_level=0`, in XLA_FLAGS, which the
  subprocesses that tests start inherit; XLA's default is 3): the suite's time is mostly compilation. On the
  2-core CPU (2026-12-05) make test took 21.5 min at the default level, 10.9 min at level 0 and 12.5 min at
  level 1, every test passing each way. Level 0 runs the compiled programs ~3x slower, so the few tests that
  run long programs (the learning checks, the scan notebook) compile theirs at level 1 (the `xla_run_options`
  fixture): the notebook's compile 58 -> 28 s at level 1 against the default, its training 24 -> 22 s (level 0:
  70 s). Set AGENTMIXER_JAX_TEST_XLA_OPT=default to compile everything as users' runs do. The bitwise properties
  that depend on how XLA vectorises at its default level (the same seed's result on one device or two, among 8
  or 4 seeds per device) are checked at the default level anyway: test_trainer.py's sharding test sets its own
  XLA_FLAGS.
- At level 0 the session also keeps JAX's own rolled CPU lowering of the Threefry hash
  (AGENTMIXER_JAX_ROLLED_THREEFRY=1, inherited by subprocesses) instead of the unrolled one agentmixer_jax
  installs for users: unoptimised, the unrolled hash runs slower than the loop (predator-prey at level 0, 2026-12-05:
  it compiles in 0.78-0.85x the rolled lowering's time but trains at 0.48-0.76x its speed; at XLA's default level
  it compiles in 0.56-0.59x the time and trains as fast; BENCHMARKS.md). The two give the same bits
  (tests/test_rng.py, which checks the unrolled lowering in subprocesses of its own).
"""

import os
import tempfile

FAST_COMPILE = os.environ.get("AGENTMIXER_JAX_TEST_XLA_OPT", "0") != "default"
SESSION_LEVEL, RUN_LEVEL = 0, 1  # XLA backend optimisation levels: the session's, and its long-running programs'
_LEVEL_FLAG = "--xla_backend_optimization_level={}"
if FAST_COMPILE:
    _flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in _flags:
        os.environ["XLA_FLAGS"] = f"{_flags} {_LEVEL_FLAG.format(SESSION_LEVEL)}".strip()
    os.environ.setdefault("AGENTMIXER_JAX_ROLLED_THREEFRY", "1")

import jax  # noqa: E402
import pytest  # noqa: E402

import agentmixer_jax  # noqa: E402, F401

if os.environ.get("AGENTMIXER_JAX_TEST_CACHE", "1") != "0":
    _cache = os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="agentmixer_jax_jit_"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@pytest.fixture
def xla_run_options():
    """`compiler_options` for a test's jit of a long-running program: XLA level 1 over the session's level 0
    (None when the session compiles at XLA's default). A jit's compiler_options override XLA_FLAGS."""
    return {"xla_backend_optimization_level": RUN_LEVEL} if FAST_COMPILE else None


@pytest.fixture
def xla_run_env(monkeypatch):
    """The same for a subprocess that runs long programs: its XLA_FLAGS at level 1 instead of the session's 0."""
    if FAST_COMPILE:
        flags = os.environ.get("XLA_FLAGS", "")
        monkeypatch.setenv("XLA_FLAGS", flags.replace(_LEVEL_FLAG.format(SESSION_LEVEL), _LEVEL_FLAG.format(RUN_LEVEL)))
