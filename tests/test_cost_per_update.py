"""experiments.cost_per_update: XLA's cost analysis of one update, per algorithm."""

import pytest

from experiments import cost_per_update


@pytest.mark.slow
def test_the_policy_modifier_costs_flops_on_top_of_mappo():
    rows = cost_per_update.main(["--task", "climbing", "--algos", "mappo", "agentmixer_joint"])
    assert [r["algo"] for r in rows] == ["mappo", "agentmixer_joint"]
    assert 0 < rows[0]["flops"] < rows[1]["flops"]  # the PM and the joint's decode are extra work
    assert rows[0]["bytes"] > 0
