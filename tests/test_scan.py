"""The hyperparameter scan (agentmixer_jax/scan.py): settings x seeds in one program, equal to separate runs, one
compile per static combination, bad grids refused before compiling, diverged runs flagged and never scored, run
folders the run tools read, the best setting's command reproducing its configuration, wandb grouping."""

import dataclasses
import json

import jax
import numpy as np
import pytest

import envs
from agentmixer_jax import scan as scan_mod
from agentmixer_jax.config import HParams
from agentmixer_jax.scan import ScanError, load_scan, scan
from agentmixer_jax.trainer import Seeds, Trainer

SMALL = {"total_env_steps": 64 * 10, "hidden_sizes": (16,), "critic_hidden_sizes": (16,), "eval_episodes": 8}
GRID = {"lr": [1e-4, 3e-3], "ent_coef": [0.0, 0.05]}
SEEDS = 4


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("scan") / "scan"
    return scan("climbing", "mappo", GRID, seeds=SEEDS, config=SMALL, out=out, eval_every=5, progress=False)


def test_table_is_tidy(result):
    t = result.table
    assert len(t) == 4 * SEEDS and result.compiles == 1
    assert list(t["setting"]) == [g for g in range(4) for _ in range(SEEDS)]
    assert list(t["seed"]) == list(range(SEEDS)) * 4
    assert [dict(zip(GRID, (lr, ent))) for lr, ent in zip(t["lr"][::SEEDS], t["ent_coef"][::SEEDS])] == \
        result.settings == [{"lr": a, "ent_coef": b} for a in GRID["lr"] for b in GRID["ent_coef"]]
    assert {"return", "length", "train_return_last10pct", "diverged"} <= set(t.columns)
    assert not t["diverged"].any() and np.isfinite(t["return"]).all()


def test_each_setting_equals_its_own_training_run(result):
    """Setting g's seed s is the run `experiments.train --seeds S` trains at g's values (same keys, same hp)."""
    for g in (1, 2):
        setting = result.settings[g]
        cfg = dataclasses.replace(result_config(), algo="mappo")
        seeds = Seeds(Trainer(envs.make("climbing"), cfg), SEEDS)
        hp = HParams(**setting)
        state, metrics, _ = seeds.run(seeds.init(seeds.keys(0), hp), cfg.num_updates)
        ev = jax.device_get(seeds.evaluate(state))
        _, curve = result.curves(g)
        np.testing.assert_allclose(curve, np.asarray(metrics["episode_return"]), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(result.table[result.table["setting"] == g]["return"], ev["return"], atol=1e-4)


def result_config():
    from experiments.presets import preset

    cfg, _ = preset("climbing", "mappo")
    return dataclasses.replace(cfg, **SMALL)


def test_settings_share_one_program(monkeypatch, tmp_path):
    """Four traced settings: the chunk program is traced once per chunk length, not once per setting."""
    traces = []
    original = Trainer.run

    def counting(self, state, num_updates):
        traces.append(num_updates)
        return original(self, state, num_updates)

    monkeypatch.setattr(Trainer, "run", counting)
    r = scan("climbing", "mappo", {"lr": [1e-4, 3e-4, 1e-3, 3e-3]}, seeds=2, config=SMALL, out=False,
             progress=False)
    assert r.compiles == 1 and len(traces) == len(set(traces)) == 1, traces


def test_static_values_compile_separately(tmp_path):
    r = scan("climbing", "mappo", {"num_minibatches": [1, 2], "lr": [1e-3]}, seeds=2, config=SMALL, out=False,
             progress=False)
    assert r.compiles == 2 and r.info["runs_per_program"] == [2, 2]
    assert r.info["commands"][1].count("--config.num-minibatches 2") == 1


@pytest.mark.parametrize("grid, config, match", [
    ({"lrr": [1e-3]}, {}, r"did you mean lr"),
    ({"lr": []}, {}, r"non-empty list"),
    ({"lr": "1e-3"}, {}, r"non-empty list"),
    ({"lr": ["fast"]}, {}, r"traced hyperparameter"),
    ({"lr": [1e-3, -1.0]}, {}, r"setting 1 .*hp.lr=-1 is out of range"),
    ({"num_minibatches": [1, 3]}, {}, r"num_minibatches=3 cannot work.*must divide"),
    ({"lr": [1e-3, 1e-3]}, {}, r"repeats a value"),
    ({"lr": [1e-3]}, {"bogus": 1}, r"config\['bogus'\] is not a TrainConfig field"),
])
def test_bad_grids_are_refused_before_compiling(grid, config, match, monkeypatch):
    monkeypatch.setattr(Seeds, "compile", lambda *a, **k: pytest.fail("compiled a bad scan"))
    with pytest.raises(ScanError, match=match):
        scan("climbing", "mappo", grid, seeds=2, config={**SMALL, **config}, out=False, progress=False)


def test_unknown_env_and_overlap_are_refused():
    with pytest.raises(ScanError, match="climbng"):
        scan("climbng", "mappo", {"lr": [1e-3]}, out=False, progress=False)
    with pytest.raises(ScanError, match="both in the grid and as a fixed override"):
        scan("climbing", "mappo", {"lr": [1e-3]}, hp={"lr": 1e-4}, out=False, progress=False)


def test_diverged_runs_are_flagged_and_never_win(tmp_path):
    r = scan("climbing", "mappo", {"lr": [1e-3, 1e30]}, seeds=2, config=SMALL, out=tmp_path / "s", progress=False)
    bad = r.table[r.table["setting"] == 1]
    assert bad["diverged"].all() and bad["return"].isna().all()
    summary = r.summary()
    assert summary.loc[1, "seeds"] == 0 and np.isnan(summary.loc[1, "iqm"])
    assert r.best()["setting"] == 0
    saved = json.loads((r.folder / "settings" / r.info["setting_folders"][1] / "summary.json").read_text())
    assert saved["diverged_per_seed"] == [True, True] and saved["eval"]["return_per_seed"] == [None, None]


def test_run_folders_feed_the_run_tools(result):
    from experiments import plot_curves, results_table

    rows = results_table.main([str(result.folder / "settings")])
    assert len(rows) == 4
    loaded = load_scan(result.folder)
    assert loaded.settings == result.settings and loaded.compiles == 1
    np.testing.assert_allclose(loaded.table["return"], result.table["return"])
    run = plot_curves.load_run(result.folder / "settings" / result.info["setting_folders"][0])
    assert run.eval_updates.tolist() == [5, 10]
    with pytest.raises(ScanError, match="already holds a scan"):
        scan("climbing", "mappo", GRID, seeds=SEEDS, config=SMALL, out=result.folder, progress=False)


def test_best_command_reproduces_the_setting(result):
    from experiments import train

    best = result.best()
    argv = best["command"].split()[3:]  # after "python -m experiments.train"
    args = train._parse(argv)
    assert args.seeds == SEEDS and args.env == "climbing" and args.algo == "mappo" and args.eval_every == 5
    assert args.config == dataclasses.replace(result_config(), algo="mappo")
    for name, value in best["values"].items():
        assert float(getattr(args.hp, name)) == pytest.approx(value)
    assert best["iqm"] == pytest.approx(result.summary().loc[best["setting"], "iqm"])


def test_wandb_one_grouped_run_per_setting(result, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    calls = []
    import wandb

    real_init = wandb.init
    monkeypatch.setattr(wandb, "init", lambda **kw: calls.append(kw) or real_init(**kw))
    from rich.console import Console

    scan_mod._log_wandb(result, "agentmixer-jax-test", Console(stderr=True))
    assert [c["group"] for c in calls] == [result.folder.name] * 4
    assert [c["config"]["lr"] for c in calls] == [s["lr"] for s in result.settings]
    assert len(list((result.folder / "wandb").glob("offline-run-*"))) == 4


def test_ctrl_c_marks_the_scan_interrupted(tmp_path, monkeypatch):
    def interrupted(self, state, num_updates):
        raise KeyboardInterrupt

    monkeypatch.setattr(Seeds, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        scan("climbing", "mappo", {"lr": [1e-3]}, seeds=2, config=SMALL, out=tmp_path / "s", progress=False)
    info = json.loads((tmp_path / "s" / "scan.json").read_text())
    assert info["status"] == "interrupted" and "KeyboardInterrupt" in info["error"]
    assert not (tmp_path / "s" / "results.csv").exists()
