"""Task registry: `envs.make(name, **kwargs)` builds any registered task from its name.

Each task name maps to `"module:factory"`; the module is imported only when the task is made, so
listing tasks never imports heavy dependencies (Brax). A factory takes keyword arguments and returns
a `MultiAgentEnv`.
"""

from __future__ import annotations

import difflib
import importlib

from envs.core import MultiAgentEnv

# name -> "module:factory". Keep one block per environment module.
_TASKS: dict[str, str] = {
    # --- matrix games (envs/matrix.py) ---
    "climbing": "envs.matrix:climbing",
    "penalty": "envs.matrix:penalty",
    "matrix": "envs.matrix:MatrixGame",
    # --- grid tasks (envs/predator_prey.py, envs/bridge.py) ---
    "predator_prey": "envs.predator_prey:predator_prey",
    "predator_prey_p0": "envs.predator_prey:predator_prey_p0",
    "predator_prey_p05": "envs.predator_prey:predator_prey_p05",
    "predator_prey_p1": "envs.predator_prey:predator_prey_p1",
    "predator_prey_p15": "envs.predator_prey:predator_prey_p15",
    "bridge": "envs.bridge:BridgeCrossing",
    # --- multi-agent MuJoCo on Brax (envs/mabrax/) ---
    "ant_2x4": "envs.mabrax:ant_2x4",
    "ant_2x4d": "envs.mabrax:ant_2x4d",
    "ant_4x2": "envs.mabrax:ant_4x2",
    "ant_8x1": "envs.mabrax:ant_8x1",
    "halfcheetah_2x3": "envs.mabrax:halfcheetah_2x3",
    "halfcheetah_3x2": "envs.mabrax:halfcheetah_3x2",
    "halfcheetah_6x1": "envs.mabrax:halfcheetah_6x1",
    "hopper_3x1": "envs.mabrax:hopper_3x1",
    "walker2d_2x3": "envs.mabrax:walker2d_2x3",
    "walker2d_3x2": "envs.mabrax:walker2d_3x2",
    "walker2d_6x1": "envs.mabrax:walker2d_6x1",
    "humanoid_9|8": "envs.mabrax:humanoid_9|8",
    "humanoid_17x1": "envs.mabrax:humanoid_17x1",
    "humanoidstandup_9|8": "envs.mabrax:humanoidstandup_9|8",
    "humanoidstandup_17x1": "envs.mabrax:humanoidstandup_17x1",
    "reacher_2x1": "envs.mabrax:reacher_2x1",
    # --- SMACv2 stand-in (envs/smaxv2/) ---
    "protoss_5v5": "envs.smaxv2:protoss_5v5",
    "protoss_10v10": "envs.smaxv2:protoss_10v10",
    "protoss_20v20": "envs.smaxv2:protoss_20v20",
    "protoss_10v11": "envs.smaxv2:protoss_10v11",
    "protoss_20v23": "envs.smaxv2:protoss_20v23",
    "terran_5v5": "envs.smaxv2:terran_5v5",
    "terran_10v10": "envs.smaxv2:terran_10v10",
    "terran_20v20": "envs.smaxv2:terran_20v20",
    "terran_10v11": "envs.smaxv2:terran_10v11",
    "terran_20v23": "envs.smaxv2:terran_20v23",
    "zerg_5v5": "envs.smaxv2:zerg_5v5",
    "zerg_10v10": "envs.smaxv2:zerg_10v10",
    "zerg_20v20": "envs.smaxv2:zerg_20v20",
    "zerg_10v11": "envs.smaxv2:zerg_10v11",
    "zerg_20v23": "envs.smaxv2:zerg_20v23",
    "smaxv2": "envs.smaxv2:make_scenario",
}


def register(name: str, target: str) -> None:
    """Add a task: `target` is `"module:factory"`. Re-registering a name is an error."""
    if name in _TASKS and _TASKS[name] != target:
        raise ValueError(f"task {name!r} is already registered as {_TASKS[name]!r}")
    if ":" not in target:
        raise ValueError(f"register target must look like 'module:factory', got {target!r}")
    _TASKS[name] = target


def registered_tasks() -> tuple[str, ...]:
    """All task names, sorted."""
    return tuple(sorted(_TASKS))


def make(name: str, **kwargs) -> MultiAgentEnv:
    """Build the task `name` (for example `"climbing"`, `"penalty"`), passing `kwargs` to its factory."""
    if name not in _TASKS:
        close = difflib.get_close_matches(name, _TASKS, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"unknown env {name!r}.{hint} Known envs: {', '.join(registered_tasks())}."
        )
    module_name, factory_name = _TASKS[name].split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    try:
        return factory(**kwargs)
    except TypeError as err:
        raise ValueError(f"env {name!r} does not accept these arguments {sorted(kwargs)}: {err}") from err
