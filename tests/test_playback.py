"""experiments.playback: per-episode statistics of saved policies, greedy against sampled."""

import json

import numpy as np
import pytest

from experiments import playback
from experiments import train as cli


def test_episode_stats_on_a_hand_built_rollout():
    T = 12
    done = np.zeros((T, 2), bool)
    done[5, 0] = done[11, 0] = done[11, 1] = True
    # env 0: episode 1 pays on steps 1, 2, 3 (a run of 3); episode 2 pays on steps 6-11 (a run of 6),
    # two penalties on step 8. env 1: one episode paying on steps 0 and 2.
    per_step = np.zeros((T, 2), np.int64)
    per_step[1:4, 0] = 1
    per_step[6:12, 0] = 1
    per_step[8, 0] = 2
    per_step[[0, 2], 1] = 1
    running = per_step.copy()
    running[:6, 0] = np.cumsum(per_step[:6, 0])
    running[6:, 0] = np.cumsum(per_step[6:, 0])
    running[:, 1] = np.cumsum(per_step[:, 1])
    reward = np.full((T, 2, 2), -0.01, np.float32)
    reward[..., 1] = 99.0  # only agent 0's copy of the team reward is read
    t = {"reward": reward, "info": {"episode_done": done, "miscoordinations": running,
                                    "captured": np.where(done, 1.0, 0.0)}}
    s = playback.episode_stats(t)
    np.testing.assert_allclose(s["length"], [6, 6, 12])
    np.testing.assert_allclose(s["return"], [-0.06, -0.06, -0.12], rtol=1e-5)
    np.testing.assert_allclose(s["miscoordinations"], [3, 7, 2])
    np.testing.assert_allclose(s["longest_penalty_streak"], [3, 6, 1])
    np.testing.assert_allclose(s["penalties_in_streaks_ge5"], [0.0, 1.0, 0.0])
    reward[3, 1, 0] = 5.0  # a capture in env 1: the window's total is 24 steps x -0.01 + 5.01
    assert playback.reward_per_step(t) == pytest.approx((24 * -0.01 + 5.01) / 24, rel=1e-5)
    np.testing.assert_allclose(s["captured"], [1, 1, 1])


def test_playback_of_a_saved_predator_prey_run(tmp_path, capsys):
    out = tmp_path / "run"
    summary = cli.main(["--env", "predator_prey_p1", "--algo", "ippo", "--out", str(out), "--seeds", "3",
                        "--config.total-env-steps", "3200", "--no-progress"])
    result = playback.main([str(out), "--steps", "150", "--envs", "4"])
    written = json.loads((out / "playback.json").read_text())
    assert written["greedy"]["return"] == result["greedy"]["return"]
    assert set(written["sampled"]) == set(result["sampled"])
    P, step_cost, capture = -1.0, -0.01, 5.0
    for mode in ("greedy", "sampled"):
        r = result[mode]
        assert len(r["return"]) == summary["seeds"] == 3
        # every episode's return is its step costs, penalties and captures, so the per-seed means agree
        want = (step_cost * np.array(r["length"]) + P * np.array(r["miscoordinations"])
                + capture * np.array(r["captured"]))
        np.testing.assert_allclose(r["return"], want, rtol=1e-4, atol=1e-4)
        streak = np.array(r["longest_penalty_streak"])
        assert np.all(streak <= np.array(r["miscoordinations"]) + 1e-9)
    assert "| longest_penalty_streak |" in capsys.readouterr().out
