"""experiments.playback: per-episode statistics of saved policies, greedy against sampled."""

import json

import numpy as np
import pytest

from agentmixer_jax.run_record import RunFolder
from experiments import playback
from experiments import train as cli


def _rollout(step_cost=-0.01):
    """A hand-built `Run.rollout` result: 12 steps in 2 envs; env 0 ends episodes at steps 5 and 11, env 1 at 11."""
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
    reward = np.full((T, 2, 2), step_cost, np.float32)
    reward[..., 1] = 99.0  # only agent 0's copy of the team reward is read
    return {"reward": reward, "info": {"episode_done": done, "miscoordinations": running,
                                       "captured": np.where(done, 1.0, 0.0)}}


def test_episode_stats_on_a_hand_built_rollout():
    t = _rollout()
    reward = t["reward"]
    s = playback.episode_stats(t)
    np.testing.assert_allclose(s["length"], [6, 6, 12])
    np.testing.assert_allclose(s["return"], [-0.06, -0.06, -0.12], rtol=1e-5)
    np.testing.assert_allclose(s["miscoordinations"], [3, 7, 2])
    np.testing.assert_allclose(s["longest_penalty_streak"], [3, 6, 1])
    np.testing.assert_allclose(s["penalties_in_streaks_ge5"], [0.0, 1.0, 0.0])
    reward[3, 1, 0] = 5.0  # a capture in env 1: the window's total is 24 steps x -0.01 + 5.01
    assert playback.reward_per_step(t) == pytest.approx((24 * -0.01 + 5.01) / 24, rel=1e-5)
    np.testing.assert_allclose(s["captured"], [1, 1, 1])


@pytest.mark.slow  # 15-min budget (issue 15); hand-built and diverged playback stay fast
def test_playback_of_a_saved_predator_prey_run(tmp_path, capsys):
    out = tmp_path / "run"
    summary = cli.main(["--env", "predator_prey_p1", "--algo", "ippo", "--out", str(out), "--seeds", "3",
                        "--config.total-env-steps", "3200", "--no-progress"])
    result = playback.main([str(out), "--steps", "150", "--envs", "4"])
    written = json.loads((out / "playback.json").read_text())
    assert written["diverged_per_seed"] == [False, False, False]
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


class _FakeRun:
    """Stands in for `agentmixer_jax.checkpoint.Run`: records which seeds were played."""

    def __init__(self, diverged):
        self.diverged = np.asarray(diverged, bool)
        self.num_seeds = len(diverged)
        self.summary = {"algo": "mappo", "env": "predator_prey_p1", "seeds": self.num_seeds}
        self.played = []

    def rollout(self, seed, num_steps, num_envs=1, sample=False, key=None):
        self.played.append((seed, sample))
        if self.diverged[seed]:
            t = _rollout()
            t["reward"] = np.full_like(t["reward"], np.nan)  # what NaN parameters would give
            return t
        return _rollout(step_cost=-0.01 * (seed + 1))


def test_diverged_seeds_are_not_played(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    out.mkdir()
    fake = _FakeRun([False, True, False])
    monkeypatch.setattr(playback, "load_run", lambda path: fake)
    result = playback.main([str(out), "--steps", "12", "--envs", "2"])
    assert sorted(fake.played) == [(0, False), (0, True), (2, False), (2, True)]
    written = json.loads(RunFolder(out).playback_path.read_text())
    assert written == result
    assert written["diverged_per_seed"] == [False, True, False]
    for mode in ("greedy", "sampled"):
        r = written[mode]
        assert r["return"][1] is None and r["reward_per_step"][1] is None and r["length"][1] is None
        # seed i pays -0.01 (i + 1) per step; mean episode length (6 + 6 + 12) / 3 = 8
        np.testing.assert_allclose([r["return"][0], r["return"][2]], [-0.08, -0.24], rtol=1e-5)
    text = capsys.readouterr().out
    assert "note: 1 of 3 seeds diverged in training and were not played (seeds 1;" in text
    assert f"| return | {playback.mean_ci([-0.08, -0.24])} |" in text


def test_every_seed_diverged(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    out.mkdir()
    fake = _FakeRun([True, True])
    monkeypatch.setattr(playback, "load_run", lambda path: fake)
    with pytest.raises(SystemExit) as err:
        playback.main([str(out)])
    assert err.value.code == 2 and fake.played == []
    assert "every seed of" in capsys.readouterr().err
    assert not RunFolder(out).playback_path.exists()
