"""experiments/profile_pm.py: the Policy Modifier built up part by part, each part a part of the whole."""

import pytest

from experiments import profile_pm

pytestmark = pytest.mark.slow  # compiles and timed runs: a benchmark tool, checked under -m slow


def test_each_partial_pm_costs_less_than_the_whole_and_more_than_its_input_layer():
    out = profile_pm.main(["--task", "climbing", "--algo", "agentmixer_authors", "--seeds", "1", "--repeats", "1"])
    assert list(out) == ["input", "+channel", "+agent", "whole"]
    for part in ("+channel", "+agent"):
        assert out["input"]["flops"] < out[part]["flops"] < out["whole"]["flops"]
    assert all(r["median_s"] > 0 for r in out.values())


def test_an_algorithm_without_a_policy_modifier_is_refused():
    with pytest.raises(SystemExit, match="no Policy Modifier"):
        profile_pm.main(["--task", "climbing", "--algo", "mappo", "--repeats", "1"])
