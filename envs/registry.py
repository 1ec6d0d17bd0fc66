"""Task registry: `envs.make(name, **kwargs)` builds any registered task from its name.

Each task name maps to `"module:factory"`; the module is imported only when the task is made, so
listing tasks never imports heavy dependencies (Brax). A factory takes keyword arguments and returns
a `MultiAgentEnv`.
"""

from __future__ import annotations

import collections.abc
import difflib
import importlib
import inspect
import types
import typing

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
    # the authors' runs: capture reward 10, 128-step episodes (see envs/predator_prey.py)
    "predator_prey_authors_p0": "envs.predator_prey:predator_prey_authors_p0",
    "predator_prey_authors_p1": "envs.predator_prey:predator_prey_authors_p1",
    "predator_prey_authors_p15": "envs.predator_prey:predator_prey_authors_p15",
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
    # --- jumanji (envs/jumanji_adapter.py) ---
    # `lbf` / `rware`: jumanji's LevelBasedForaging-v0 / RobotWarehouse-v0 (any option, or scenario=NAME); the
    # named ones are Mava's scenarios (instadeepai/Mava @ 57c8e64, mava/configs/env/scenario/*.yaml)
    "lbf": "envs.jumanji_adapter:lbf",
    "lbf_2s-8x8-2p-2f-coop": "envs.jumanji_adapter:lbf_2s_8x8_2p_2f_coop",
    "lbf_8x8-2p-2f-coop": "envs.jumanji_adapter:lbf_8x8_2p_2f_coop",
    "lbf_2s-10x10-3p-3f": "envs.jumanji_adapter:lbf_2s_10x10_3p_3f",
    "lbf_10x10-3p-3f": "envs.jumanji_adapter:lbf_10x10_3p_3f",
    "lbf_15x15-3p-5f": "envs.jumanji_adapter:lbf_15x15_3p_5f",
    "lbf_15x15-4p-3f": "envs.jumanji_adapter:lbf_15x15_4p_3f",
    "lbf_15x15-4p-5f": "envs.jumanji_adapter:lbf_15x15_4p_5f",
    "rware": "envs.jumanji_adapter:rware",
    "rware_tiny-2ag": "envs.jumanji_adapter:rware_tiny_2ag",
    "rware_tiny-4ag": "envs.jumanji_adapter:rware_tiny_4ag",
    "rware_tiny-4ag-easy": "envs.jumanji_adapter:rware_tiny_4ag_easy",
    "rware_small-4ag": "envs.jumanji_adapter:rware_small_4ag",
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
    if kwargs:
        check_kwargs(name, factory, kwargs)
    try:
        return factory(**kwargs)
    except TypeError as err:
        raise ValueError(f"env {name!r} does not accept these arguments {sorted(kwargs)}: {err}") from err
    except ValueError as err:  # a value the env rejects: say which env
        raise ValueError(f"env {name!r}: {err}") from err


def _accepted(fn) -> dict[str, inspect.Parameter]:
    """Named parameters of `fn` (a function, partial or class), with resolved annotations where possible."""
    target = fn.__init__ if inspect.isclass(fn) else fn
    try:
        params = dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return {}
    try:
        hints = typing.get_type_hints(inspect.unwrap(getattr(target, "func", target)))
    except Exception:  # noqa: BLE001 - annotations that do not resolve are simply not checked
        hints = {}
    return {k: p.replace(annotation=hints.get(k, inspect.Parameter.empty)) for k, p in params.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _matches(value, hint) -> bool:
    """Whether `value` (parsed from the command line) fits the annotation `hint`; unknown hints accept anything."""
    if hint is inspect.Parameter.empty or hint is typing.Any:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    container = origin or hint
    if container in (tuple, list, collections.abc.Sequence):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return isinstance(value, tuple | list) and all(any(_matches(v, a) for a in args) or not args for v in value)
    return True


def _type_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def check_kwargs(name: str, factory, kwargs: dict) -> None:
    """Raise a ValueError naming the argument when a constructor argument of task `name` has the wrong type.

    Checks against the annotations of the factory and of the environment class it builds (a factory that
    forwards `**kwargs` is looked through by building the task once with its defaults)."""
    accepted = _accepted(factory)
    if any(p.kind == p.VAR_KEYWORD for p in inspect.signature(factory).parameters.values()) or not accepted:
        try:
            defaults = factory()
        except (TypeError, ValueError):
            # A factory with required arguments (smaxv2's `make_scenario(race, n_allies, n_enemies, **kwargs)`)
            # cannot be built with defaults: check the arguments it names itself; it reports the others.
            defaults = None
        if defaults is not None:
            accepted = {**_accepted(type(defaults)), **accepted}
    for key, value in kwargs.items():
        param = accepted.get(key)
        if param is None:
            continue  # the factory itself reports unknown arguments
        if not _matches(value, param.annotation):
            default = "" if param.default is inspect.Parameter.empty else f", default {param.default!r}"
            raise ValueError(f"env {name!r}: {key}={value!r} has the wrong type; {key} takes "
                             f"{_type_name(param.annotation)}{default}")
