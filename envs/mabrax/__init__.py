"""Multi-agent MuJoCo on Brax (MaMuJoCo in pure JAX): see `envs/mabrax/env.py`.

`make("ant", "4x2", obsk=1, backend="positional")` builds a task; every registered name
`robot_partition` (`ant_4x2`, `humanoid_9|8`, ...) is also an attribute of this module, so the
registry can point at `"envs.mabrax:ant_4x2"`.
"""

from __future__ import annotations

import functools

from envs.mabrax.partitions import PARTITIONS, ROBOTS, Partition, get_partition, task_names


def make(robot: str, partition: str | Partition, **kwargs):
    """Build `MaBraxEnv(robot, partition, **kwargs)` (obsk, backend, k_categories, ...)."""
    from envs.mabrax.env import MaBraxEnv  # imports Brax: only when a task is built

    return MaBraxEnv(robot, partition, **kwargs)


def _factory(task: str):
    robot, _, partition = task.partition("_")
    return functools.update_wrapper(functools.partial(make, robot, partition), make)


def __getattr__(name: str):
    # `envs.mabrax.ant_4x2(**kw)`, also for names that are not identifiers (`humanoid_9|8`).
    if name in task_names():
        return _factory(name)
    raise AttributeError(f"module 'envs.mabrax' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *task_names()])


__all__ = ["PARTITIONS", "ROBOTS", "get_partition", "make", "task_names"]
