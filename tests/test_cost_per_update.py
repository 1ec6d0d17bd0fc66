"""experiments.cost_per_update: XLA's cost analysis of one update, per algorithm."""

import pytest

from experiments import cost_per_update


@pytest.mark.slow
def test_the_policy_modifier_costs_flops_on_top_of_mappo():
    rows = cost_per_update.main(["--task", "climbing", "--algos", "mappo", "agentmixer_joint"])
    assert [r["algo"] for r in rows] == ["mappo", "agentmixer_joint"]
    assert 0 < rows[0]["flops"] < rows[1]["flops"]  # the PM and the joint's decode are extra work
    assert rows[0]["bytes"] > 0


@pytest.mark.slow
def test_config_fields_apply_over_every_preset():
    wide, narrow = (cost_per_update.main(["--task", "climbing", "--algos", "agentmixer_joint", "--config", *extra])[0]
                    for extra in (["pm_channels=64"], ["pm_channels=8"]))
    assert narrow["flops"] < wide["flops"]  # the PM's width reached the compiled update
    with pytest.raises(SystemExit, match="no TrainConfig field pm_width"):
        cost_per_update.main(["--task", "climbing", "--algos", "mappo", "--config", "pm_width=8"])
