"""experiments/bench_trainer.py: the paired ratio of simultaneous runs, and the measured whole runs (chunked, and this
tree as one program) doing the same work."""

import numpy as np
import pytest

from experiments import bench_trainer


def test_paired_ratio_cancels_a_slower_core():
    # new is 3% slower than old in every round; core 1 runs 15% slower and the two swap cores every round
    old = [10.0 * (1.15 if r % 2 else 1.0) for r in range(6)]
    new = [10.3 * (1.0 if r % 2 else 1.15) for r in range(6)]
    assert bench_trainer._paired(old, new) == pytest.approx(10.0 / 10.3)
    assert min(o / n for o, n in zip(old, new)) < 0.9 < 1.1 < max(o / n for o, n in zip(old, new))  # per round


def test_concurrent_needs_an_even_number_of_rounds():
    with pytest.raises(SystemExit, match="even number of rounds"):
        bench_trainer.simultaneous({}, 3)


@pytest.mark.slow  # compiles two programs of a benchmark tool
def test_the_one_program_variant_runs_the_same_training_as_the_chunked_loop():
    chunked, info = bench_trainer.prepare("climbing", "mappo", 2, 7, 0)
    closure, info_c = bench_trainer.prepare("climbing", "mappo", 2, 7, 0, closure=True)
    assert info == info_c and info["updates"] == 7  # 7 updates: chunks of 5 + 2 in the chunked loop
    a, b = chunked(), closure()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)
