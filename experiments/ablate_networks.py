"""Ablation of the critic / network options (value normalisation, input normalisation, LayerNorm, orthogonal
init, Huber loss, value clipping) at equal budgets: one CLI run per task x variant, then a table.

    python -m experiments.ablate_networks --tasks protoss_5v5 --seeds 8 --steps 192000
    python -m experiments.ablate_networks --tasks protoss_5v5 --table-only      # re-read the run folders
    python -m experiments.ablate_networks --tasks jaxmarl_smacv2_5_units --variants jaxmarl jaxmarl_inputs

Every run is an ordinary run folder under OUT/TASK/ALGO-VARIANT (so `results_table` and `plot_curves` read them).
The table gives, per variant, the interquartile mean (IQM: the mean of the middle 50% of seeds) of the greedy
decentralised evaluation with a 95% percentile-bootstrap interval, the mean of the training return over the last
10% of updates, and the training throughput of the run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import tyro

from agentmixer_jax import stats
from experiments.presets import NETWORKS

# variant -> TrainConfig overrides (CLI spelling) over the env preset. "today" is the library as it was before
# these options. Every variant states normalize-inputs, since the SMACv2 stand-in and predator-prey presets
# now turn it on (chosen by this ablation): the commands in RESULTS.md keep measuring the same thing.
_OFF = {"normalize-inputs": "False"}
# keys starting "hp." are HParams (`--hp.NAME`), the others TrainConfig fields (`--config.NAME`). JaxMARL's values:
# baselines/MAPPO/config/mappo_homogenous_rnn_smax.yaml at FLAIROx/JaxMARL c793d09, the same as issue 17's
# held-out comparison ran with jaxmarl 0.2.0 (an older commit, 039acc3, had lr 4e-3, clip 0.05, ent 0.01).
_JAXMARL_HP = {"num-envs": "128", "num-steps": "128", "update-epochs": "4", "num-minibatches": "4",
               "anneal-lr": "True", "weight-init": "orthogonal", "hp.lr": "2e-3", "hp.critic-lr": "2e-3",
               "hp.ent-coef": "0", "hp.clip-eps": "0.2", "hp.max-grad-norm": "0.25"}


def _cli(overrides: dict) -> dict[str, str]:
    """TrainConfig overrides {field: value} in this table's CLI spelling {field-name: "value"}."""
    return {k.replace("_", "-"): " ".join(map(str, v)) if isinstance(v, tuple) else str(v)
            for k, v in overrides.items()}


# their networks, as `--network jaxmarl` sets them (experiments/presets.py NETWORKS)
_JAXMARL_NETWORKS = _cli(NETWORKS["jaxmarl"])
_AUTHORS_NETWORKS = _cli(NETWORKS["authors"])
_FF_128 = {"hidden-sizes": "128 128", "critic-hidden-sizes": "128 128"}
VARIANTS: dict[str, dict[str, str]] = {
    "today": {**_OFF},
    "value_norm": {**_OFF, "value-norm": "True"},
    "inputs": {"normalize-inputs": "True"},
    "layernorm": {**_OFF, "feature-norm": "True"},
    "orthogonal": {**_OFF, "weight-init": "orthogonal"},
    "no_value_clip": {**_OFF, "clip-value-loss": "False"},
    "popart": {**_OFF, "value-norm": "True", "popart": "True"},
    "value_norm_huber": {**_OFF, "value-norm": "True", "value-loss": "huber"},
    "all": {"value-norm": "True", "normalize-inputs": "True", "weight-init": "orthogonal"},
    "recurrent": {**_OFF, "recurrent": "True"},
    "recurrent_critic": {**_OFF, "recurrent": "True", "recurrent-critic": "True"},
    # JaxMARL's MAPPO recipe (baselines/MAPPO/config/mappo_homogenous_rnn_smax.yaml, jaxmarl 0.2.0): 128 envs x
    # 128 steps, 4 epochs x 4 minibatches, lr 2e-3 annealed, ent 0, clip 0.2 (ratio and value), grad clip 0.25,
    # width 128, orthogonal init; "jaxmarl_ff" keeps our feed-forward actor / critic (two 128-wide layers) to
    # separate the hyperparameters from the GRU networks, "jaxmarl" adds their networks (`--network jaxmarl`).
    "jaxmarl_ff": {**_OFF, **_JAXMARL_HP, **_FF_128},
    "jaxmarl": {**_OFF, **_JAXMARL_HP, **_JAXMARL_NETWORKS},
    # the same, with our running input normalisation (of the observations and of the critic's state)
    "jaxmarl_ff_inputs": {**_JAXMARL_HP, **_FF_128, "normalize-inputs": "True"},
    "jaxmarl_inputs": {**_JAXMARL_HP, **_JAXMARL_NETWORKS, "normalize-inputs": "True"},
    # a LayerNorm after every hidden layer (the MAPPO codebase's MLPLayer, which the AgentMixer authors build on:
    # LiZhYun/BackPropagationThroughAgents bta/algorithms/utils/mlp.py @ ecc9a14), alone and with the preset's
    # input normalisation; "authors" is their whole network and value setup (`--network authors`)
    "hidden_norm": {**_OFF, "hidden-norm": "True"},
    "hidden_norm_inputs": {"normalize-inputs": "True", "hidden-norm": "True"},
    "authors": {**_OFF, **_AUTHORS_NETWORKS},
    # MAPPO's agent-specific global state (Yu et al. 2022, section 5.2): each agent's observation appended to the
    # state its critic reads, over the preset (input normalisation on)
    "agent_state": {"normalize-inputs": "True", "critic-agent-obs": "True"},
}

# variants whose option list is too long for the table's column: what it shows instead
LABELS = {"jaxmarl_ff": "JaxMARL's hyperparameters (see VARIANTS), our feed-forward networks at width 128",
          "jaxmarl": "JaxMARL's hyperparameters and networks (GRU actor and critic, no agent id)",
          "jaxmarl_ff_inputs": "jaxmarl_ff + normalize-inputs=True",
          "jaxmarl_inputs": "jaxmarl + normalize-inputs=True",
          "authors": "the AgentMixer authors' networks (`--network authors`: ValueNorm, Huber, input and hidden "
                     "LayerNorms, orthogonal init, ReLU 64 x 64)"}

# task prefix -> the evaluation statistic the table reports
EVAL_METRIC = {"protoss": "win_rate", "terran": "win_rate", "zerg": "win_rate", "jaxmarl": "win_rate"}


@dataclasses.dataclass
class Args:
    tasks: tuple[str, ...] = ("protoss_5v5",)  # presets from experiments/presets.py
    variants: tuple[str, ...] = tuple(VARIANTS)  # names of VARIANTS
    algo: str = "mappo"
    seeds: int = 8
    steps: int = 192_000  # env steps per seed (every variant of a task gets the same)
    out: Path = Path("runs/ablation")
    table_only: bool = False  # only read existing run folders and print the table


def run_dir(args: Args, task: str, variant: str) -> Path:
    return args.out / task / f"{args.algo}-{variant}"


def train_argv(args: Args, task: str, variant: str) -> list[str]:
    argv = ["--env", task, "--algo", args.algo, "--seeds", str(args.seeds), "--config.total-env-steps",
            str(args.steps), "--out", str(run_dir(args, task, variant)), "--overwrite", "--no-progress"]
    for key, value in VARIANTS[variant].items():
        group, field = key.split(".") if key.startswith("hp.") else ("config", key)
        if value == "True":
            argv.append(f"--{group}.{field}")
        elif value == "False":
            argv.append(f"--{group}.no-{field}")
        else:
            argv += [f"--{group}.{field}", *value.split()]
    return argv


def _tail(metrics: dict, name: str, alive: np.ndarray) -> np.ndarray | None:
    """(alive seeds,) the mean of a per-seed metric over the last 10% of updates, or None if not logged."""
    if name not in metrics:
        return None
    v = np.asarray(metrics[name])[alive]
    return v[:, -max(1, v.shape[1] // 10):].mean(1)


def row(args: Args, task: str, variant: str) -> dict[str, str] | None:
    from agentmixer_jax.run_record import RunFolder

    folder = RunFolder(run_dir(args, task, variant))
    if not folder.has_summary():
        return None
    s = folder.read_summary()
    if "eval" not in s:  # still running, interrupted or failed
        return None
    metric = EVAL_METRIC.get(task.split("_")[0], "return")
    alive = ~np.asarray(s["diverged_per_seed"], bool)
    vals = np.asarray([v for v, ok in zip(s["eval"][f"{metric}_per_seed"], alive) if ok], np.float64)
    m = folder.read_metrics()
    tail = _tail(m, "episode_return_per_seed", alive)
    iqm = stats.interval(vals, "iqm")
    shown = [f"{k}={v}" for k, v in VARIANTS[variant].items() if (k, v) not in _OFF.items()]
    return {"task": task, "variant": variant, "options": LABELS.get(variant) or " ".join(shown) or "(as before)",
            f"greedy {metric}: IQM [95% CI]": iqm.format(),
            "mean": f"{vals.mean():.3f}" if vals.size else "-",
            "training return, last 10%": stats.interval(tail, "mean").format(2) if tail.size > 1 else "-",
            **({"training win rate, last 10%": f"{won.mean():.3f}"}
               if (won := _tail(m, "episode_won_per_seed", alive)) is not None else {}),
            "seeds (diverged)": f"{alive.size} ({int((~alive).sum())})",
            "env steps/s": f"{s['steps_per_second']:,.0f}"}


def main(argv: list[str] | None = None) -> list[dict[str, str]]:
    args = tyro.cli(Args, args=argv)
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    if any(task.startswith("jaxmarl_") for task in args.tasks):  # JaxMARL's own SMAX maps (the `bench` extra)
        from envs.jaxmarl_smax import register_tasks

        register_tasks()
    if not args.table_only:
        from experiments import train

        for task in args.tasks:
            for variant in args.variants:
                print(f"== {task} / {variant}", flush=True)
                train.main(train_argv(args, task, variant))
    from experiments.results_table import format_markdown

    rows = []
    for task in args.tasks:  # one table per task: their columns differ (win rate or return)
        task_rows = [r for v in args.variants if (r := row(args, task, v)) is not None]
        if task_rows:
            print(format_markdown(task_rows) + "\n")
            rows += task_rows
    if rows:
        (args.out / "ablation.json").write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
