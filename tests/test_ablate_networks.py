"""The network-option ablation's variants reach the trainer as intended: every override of every variant, TrainConfig
field or HParam, is parsed by the training CLI into the config the run will use."""

import dataclasses
from pathlib import Path

import pytest

from experiments import ablate_networks
from experiments.train import _parse


def _parsed_value(value: str, current):
    if value in ("True", "False"):
        return value == "True"
    if isinstance(current, tuple):
        return tuple(type(current[0])(v) for v in value.split())
    return type(current)(value)


@pytest.mark.parametrize("variant", list(ablate_networks.VARIANTS))
def test_every_override_reaches_the_run_config(variant):
    args = ablate_networks.Args(tasks=("protoss_5v5",), variants=(variant,), out=Path("/nonexistent"))
    parsed = _parse(ablate_networks.train_argv(args, "protoss_5v5", variant))
    for key, value in ablate_networks.VARIANTS[variant].items():
        group, field = ("hp", key[3:]) if key.startswith("hp.") else ("config", key)
        obj = getattr(parsed, group)
        name = field.replace("-", "_")
        assert name in {f.name for f in dataclasses.fields(obj)}, f"{variant}: {key} is not a {group} field"
        got = getattr(obj, name)
        assert got == _parsed_value(value, got), f"{variant}: {key} = {got!r}, wanted {value}"


def test_jaxmarl_variants_carry_jaxmarls_learning_rate_and_batch():
    args = ablate_networks.Args(out=Path("/nonexistent"))
    for variant in ("jaxmarl_ff", "jaxmarl"):
        parsed = _parse(ablate_networks.train_argv(args, "protoss_5v5", variant))
        assert (parsed.hp.lr, parsed.hp.ent_coef, parsed.hp.max_grad_norm) == (2e-3, 0.0, 0.25)
        assert (parsed.config.num_envs, parsed.config.num_steps, parsed.config.num_minibatches) == (128, 128, 4)
    assert _parse(ablate_networks.train_argv(args, "protoss_5v5", "jaxmarl")).config.recurrent_critic


@pytest.mark.parametrize("variant", list(ablate_networks.VARIANTS))
def test_the_throughput_benchmark_times_the_config_the_ablation_trains(variant):
    """experiments.bench_networks applies each variant itself (no CLI): it must build exactly the config and
    hyperparameters the training CLI parses from the ablation's arguments (it once passed "64 64" as a string)."""
    from experiments.bench_networks import apply_variant

    cfg, hp = apply_variant(variant, "protoss_5v5", "mappo")
    args = ablate_networks.Args(tasks=("protoss_5v5",), variants=(variant,), out=Path("/nonexistent"))
    parsed = _parse(ablate_networks.train_argv(args, "protoss_5v5", variant))
    assert dataclasses.replace(parsed.config, total_env_steps=cfg.total_env_steps) == cfg
    assert parsed.hp == hp
