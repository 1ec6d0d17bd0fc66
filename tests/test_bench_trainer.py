"""experiments/bench_trainer.py: the measured whole runs (chunked, and this tree as one program) do the same work."""

import numpy as np
import pytest

from experiments import bench_trainer

pytestmark = pytest.mark.slow  # compiles two programs of a benchmark tool


def test_the_one_program_variant_runs_the_same_training_as_the_chunked_loop():
    chunked, info = bench_trainer.prepare("climbing", "mappo", 2, 7, 0)
    closure, info_c = bench_trainer.prepare("climbing", "mappo", 2, 7, 0, closure=True)
    assert info == info_c and info["updates"] == 7  # 7 updates: chunks of 5 + 2 in the chunked loop
    a, b = chunked(), closure()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)
