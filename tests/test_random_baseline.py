"""The random-policy floor used beside learning curves."""

import numpy as np
import pytest

from experiments.random_baseline import random_policy_stats


def test_random_bridge_rarely_succeeds():
    stats = random_policy_stats("bridge", num_envs=64, steps=200)
    assert stats["episodes"] > 64  # 25-step episodes: several per env
    assert 0.0 < stats["success"] < 0.25
    assert stats["length"] <= 25.0


def test_penalty_only_changes_the_return_by_p_times_miscoordinations():
    """Same seed, same random actions: the penalty P does not change the dynamics, so the returns at
    P = 0, -1, -1.5 differ by exactly |P| times the episode's miscoordinations."""
    p0, p1, p15 = (random_policy_stats(f"predator_prey_{p}", num_envs=32, steps=300) for p in ("p0", "p1", "p15"))
    assert p0["episodes"] == p1["episodes"] == p15["episodes"] > 0
    assert p0["captured"] == pytest.approx(p1["captured"])
    misc = p0["return"] - p1["return"]
    assert misc > 0.5
    np.testing.assert_allclose(p0["return"] - p15["return"], 1.5 * misc, rtol=1e-4)
    # and the episode statistic "miscoordinations" is that episode total
    for p in (p0, p1, p15):
        np.testing.assert_allclose(p["miscoordinations"], misc, rtol=1e-4)
