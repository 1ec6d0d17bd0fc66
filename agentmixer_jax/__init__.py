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
