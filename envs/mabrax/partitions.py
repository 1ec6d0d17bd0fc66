"""Robots and MaMuJoCo partitions: which actuated joints (by name) each agent controls.

Joint names are those of Brax's robot XMLs (`brax/envs/assets/*.xml`), which for these robots match
Gymnasium's MuJoCo XMLs. Within an agent, joints are listed in that agent's action order.

Sources (the partitions are transcribed, agent by agent and joint by joint, in this order of
preference):

* [v1] Gymnasium-Robotics, `gymnasium_robotics/envs/multiagent_mujoco/obsk.py`
  (`get_parts_and_edges`, used by `mamujoco_v1`):
  Ant 2x4, 2x4d, 4x2; HalfCheetah 2x3, 6x1; Hopper 3x1; Humanoid/HumanoidStandup 9|8;
  Reacher 2x1; Walker2d 2x3. v1 fixed the original's "2x4d", which paired legs 1+3 / 2+4 (both
  same-side pairs, not diagonals); v1 pairs front-left+back-right (1+4) and front-right+back-left (2+3).
* [HARL] PKU-MARL/HARL, `harl/envs/mamujoco/multiagent_mujoco/obsk.py` (extends the original
  schroederdewitt/multiagent_mujoco tables) for the partitions v1 lacks:
  Ant 8x1; HalfCheetah 3x2; Walker2d 3x2, 6x1; Humanoid/HumanoidStandup 17x1.

MaMuJoCo labels Ant's joints `hip1`/`ankle1`; the XML (and therefore Brax) names them `hip_1`/`ankle_1`.
Legs: 1 front-left, 2 front-right, 3 back-left, 4 back-right.
"""

from __future__ import annotations

import dataclasses

Partition = tuple[tuple[str, ...], ...]


@dataclasses.dataclass(frozen=True)
class RobotSpec:
    """How one Brax robot is observed globally.

    brax_name: name for `brax.envs.get_environment`.
    root_qpos_skip: leading qpos entries of the unactuated (root) joints left out of the global
        observation, as Brax's own observation leaves them out (the x, or x and y, position).
    root_qvel: whether the unactuated joints' velocities are part of the global observation.
    qvel_clip: Brax clips velocities to [-c, c] in this robot's observation (Hopper, Walker2d); the
        per-agent observations do the same.
    qpos_sincos: observe hinge angles as (sin, cos) (Reacher's unlimited joints, as MaMuJoCo does).
    """

    brax_name: str
    root_qpos_skip: int
    root_qvel: bool = True
    qvel_clip: float | None = None
    qpos_sincos: bool = False


ROBOTS: dict[str, RobotSpec] = {
    "ant": RobotSpec("ant", root_qpos_skip=2),
    "halfcheetah": RobotSpec("halfcheetah", root_qpos_skip=1),
    "hopper": RobotSpec("hopper", root_qpos_skip=1, qvel_clip=10.0),
    "walker2d": RobotSpec("walker2d", root_qpos_skip=1, qvel_clip=10.0),
    "humanoid": RobotSpec("humanoid", root_qpos_skip=2),
    "humanoidstandup": RobotSpec("humanoidstandup", root_qpos_skip=2),
    # Reacher's unactuated joints are the target's x/y slides: positions observed, velocities (always
    # zero) not, as in MaMuJoCo.
    "reacher": RobotSpec("reacher", root_qpos_skip=0, root_qvel=False, qpos_sincos=True),
}

_HUMANOID: dict[str, Partition] = {
    # [v1] upper body | lower body
    "9|8": (
        (
            "abdomen_x", "abdomen_y", "abdomen_z",
            "right_shoulder1", "right_shoulder2", "right_elbow",
            "left_shoulder1", "left_shoulder2", "left_elbow",
        ),
        (
            "right_hip_x", "right_hip_y", "right_hip_z", "right_knee",
            "left_hip_x", "left_hip_y", "left_hip_z", "left_knee",
        ),
    ),
    # [HARL]
    "17x1": tuple(
        (j,)
        for j in (
            "left_shoulder1", "left_shoulder2", "abdomen_x", "abdomen_y", "abdomen_z",
            "right_shoulder1", "right_shoulder2", "right_elbow", "left_elbow",
            "left_hip_x", "left_hip_y", "left_hip_z",
            "right_hip_x", "right_hip_y", "right_hip_z", "right_knee", "left_knee",
        )
    ),
}  # fmt: skip

PARTITIONS: dict[str, dict[str, Partition]] = {
    "ant": {
        # [v1] neighbouring legs together (front, back)
        "2x4": (("hip_1", "ankle_1", "hip_2", "ankle_2"), ("hip_3", "ankle_3", "hip_4", "ankle_4")),
        # [v1] diagonal legs together
        "2x4d": (("hip_1", "ankle_1", "hip_4", "ankle_4"), ("hip_2", "ankle_2", "hip_3", "ankle_3")),
        # [v1] one leg each
        "4x2": (("hip_1", "ankle_1"), ("hip_2", "ankle_2"), ("hip_3", "ankle_3"), ("hip_4", "ankle_4")),
        # [HARL] one joint each
        "8x1": tuple(
            (j,) for j in ("hip_1", "ankle_1", "hip_2", "ankle_2", "hip_3", "ankle_3", "hip_4", "ankle_4")
        ),
    },
    "halfcheetah": {
        # [v1] back leg | front leg
        "2x3": (("bthigh", "bshin", "bfoot"), ("fthigh", "fshin", "ffoot")),
        # [HARL]
        "3x2": (("bfoot", "bshin"), ("bthigh", "ffoot"), ("fshin", "fthigh")),
        # [v1]
        "6x1": tuple((j,) for j in ("bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot")),
    },
    "hopper": {
        # [v1]
        "3x1": (("thigh_joint",), ("leg_joint",), ("foot_joint",)),
    },
    "walker2d": {
        # [v1] right leg | left leg
        "2x3": (
            ("foot_joint", "leg_joint", "thigh_joint"),
            ("foot_left_joint", "leg_left_joint", "thigh_left_joint"),
        ),
        # [HARL]
        "3x2": (
            ("foot_joint", "leg_joint"),
            ("thigh_joint", "foot_left_joint"),
            ("leg_left_joint", "thigh_left_joint"),
        ),
        # [HARL]
        "6x1": tuple(
            (j,)
            for j in (
                "foot_joint", "leg_joint", "thigh_joint",
                "foot_left_joint", "leg_left_joint", "thigh_left_joint",
            )  # fmt: skip
        ),
    },
    "humanoid": _HUMANOID,
    "humanoidstandup": _HUMANOID,
    "reacher": {
        # [v1]
        "2x1": (("joint0",), ("joint1",)),
    },
}


def get_partition(robot: str, partition: str | Partition) -> Partition:
    """A named partition of `robot`, or a custom one given as a tuple of joint-name tuples."""
    if robot not in PARTITIONS:
        raise ValueError(f"unknown robot {robot!r}; known: {sorted(PARTITIONS)}")
    if isinstance(partition, str):
        if partition not in PARTITIONS[robot]:
            raise ValueError(
                f"unknown partition {partition!r} for {robot!r}; known: {sorted(PARTITIONS[robot])}"
            )
        return PARTITIONS[robot][partition]
    return tuple(tuple(agent) for agent in partition)


def task_names() -> tuple[str, ...]:
    """Registered task names, `robot_partition` (e.g. `ant_4x2`, `humanoid_9|8`)."""
    return tuple(f"{r}_{p}" for r, parts in PARTITIONS.items() for p in parts)
