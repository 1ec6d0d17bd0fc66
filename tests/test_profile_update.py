"""experiments/profile_update.py: the rollout and the whole update timed apart, per algorithm."""

import pytest

from experiments import profile_update

pytestmark = pytest.mark.slow  # compiles and timed runs: a benchmark tool, checked under -m slow


def test_the_update_contains_its_rollout_and_the_epochs_cost_time():
    out = profile_update.main(["--task", "climbing", "--algos", "mappo", "agentmixer_joint", "--seeds", "2",
                               "--repeats", "2"])
    assert list(out) == ["mappo", "agentmixer_joint"]
    for row in out.values():
        assert 0 < row["rollout_s"] < row["update_s"]  # an update is a rollout plus the PPO epochs
        assert row["epochs_s"] == pytest.approx(row["update_s"] - row["rollout_s"])

