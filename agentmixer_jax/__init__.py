"""agentmixer-jax: AgentMixer and its baselines, trained end to end in JAX, vmapped over seeds and hyperparameters.

Importing the package sets one XLA flag on CPU, unless XLA_FLAGS already names it or the environment variable
AGENTMIXER_JAX_KEEP_XLA_FLAGS is set: `--xla_cpu_experimental_ynn_fusion_type=` turns off XLA:CPU's YNNPACK
library fusions. XLA offloads a reduction to YNNPACK only above a size threshold, so with them on, the same seed
summed its gradients in a different order when run among 8 seeds than among 16, and its training drifted apart
(the flag costs no speed in our benchmarks; BENCHMARKS.md). With it off, a seed's result does not depend on how
many seeds run beside it, as long as each device runs four or more: with fewer, XLA vectorises some loops
differently and a seed agrees only to float rounding, then drifts (measured on the 2-core x86_64 CPU of
tests/test_trainer.py; wider vector units may need more). The flag takes effect only if this package is
imported before JAX starts its CPU backend, i.e. before the first array is made.

Importing it also makes JAX lower its Threefry random-number hash on CPU the way it does on every other platform
(`unrolled_cpu_threefry`, unless AGENTMIXER_JAX_ROLLED_THREEFRY is set): the same 20 rounds as straight-line code
instead of a 5-trip loop. The random numbers are bit for bit the same, and the programs compile faster
(BENCHMARKS.md, "Random numbers on CPU"). XLA may fuse the float code around the draws differently, so a training
run agrees with one under JAX's own lowering to float rounding, not always bitwise (measured: predator-prey the
same greedy returns, ant_4x2 750.088 against 750.071 after 2 updates). It acts on programs compiled after the
import, in the whole process.
"""

import os

XLA_CPU_FLAG = "--xla_cpu_experimental_ynn_fusion_type="


def _set_cpu_flags() -> bool:
    """Add XLA_CPU_FLAG to XLA_FLAGS; False when the backend had already started (the flag cannot act)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if os.environ.get("AGENTMIXER_JAX_KEEP_XLA_FLAGS") or "xla_cpu_experimental_ynn_fusion_type" in flags:
        return True
    os.environ["XLA_FLAGS"] = f"{flags} {XLA_CPU_FLAG}".strip()
    import sys

    xla_bridge = sys.modules.get("jax._src.xla_bridge")
    return not (xla_bridge is not None and getattr(xla_bridge, "_backends", None))


CPU_FLAGS_ACTIVE = _set_cpu_flags()


def unrolled_cpu_threefry() -> bool:
    """Lower `jax.random`'s Threefry-2x32 hash on CPU without a loop; True if it now is.

    On CPU, JAX (0.10.2: jax/_src/random/threefry2x32.py) lowers the hash's 5 x 4 rounds as a `fori_loop`, to keep
    the programs it compiles small, and everywhere else as straight-line code. XLA:CPU then runs each random draw
    as a loop of 5 trips with about 13 buffer copies each; a rollout step of predator-prey makes 13 draws, so its
    random numbers cost more kernel launches than the rest of the step. This registers, for CPU only, the lowering
    JAX uses on the other platforms (JAX's own function with `use_rolled_loops=False`), so XLA fuses each draw into
    one elementwise kernel. Same algorithm, same random bits (tests/test_rng.py). Where a JAX version has moved these
    internals, nothing is changed and False is returned: JAX's default lowering stays, only slower.
    """
    if os.environ.get("AGENTMIXER_JAX_ROLLED_THREEFRY"):
        return False
    import functools
    import importlib
    import inspect

    from jax.extend.random import threefry2x32_p
    from jax.interpreters import mlir

    for name in ("jax._src.random.threefry2x32", "jax._src.prng"):  # where JAX has kept the lowering function
        try:
            lowering = getattr(importlib.import_module(name), "_threefry2x32_lowering", None)
        except ImportError:
            continue
        if lowering is None or "use_rolled_loops" not in inspect.signature(lowering).parameters:
            continue
        rule = mlir.lower_fun(functools.partial(lowering, use_rolled_loops=False), multiple_results=True)
        mlir.register_lowering(threefry2x32_p, rule, platform="cpu")
        return True
    return False


UNROLLED_CPU_THREEFRY = unrolled_cpu_threefry()
