"""Multi-agent MuJoCo on Brax: one robot, its actuated joints split among agents (MaMuJoCo in JAX).

`MaBraxEnv(robot, partition, obsk=1, backend="positional")` wraps the *raw* Brax environment (no Brax
`EpisodeWrapper` / `AutoResetWrapper`: `envs.wrappers.AutoReset` is the only auto-reset, and the time
limit lives in our state), so it runs inside the training jit and vmaps like any other task here.

Partition. `env.agent_joints[i]` is the tuple of joint names agent i controls, in its action order
(tables in `envs/mabrax/partitions.py`). Every actuator is driven by exactly one agent. Actuators are
matched by the joint they drive (`actuator_trnid`), since Brax's XMLs leave most actuators unnamed:
the joint action `(N, act_dim)` is gathered into Brax's action vector by these names, so Ant's actuator
order (hip_4, ankle_4, hip_1, ...) or Humanoid's (abdomen_y before abdomen_z) needs no hand-written
index. Padded action dimensions (`action_mask == False`) are never read.

Observation of agent i, shape `(obs_dim,)` = `(F + N,)` where F is the widest agent's feature count:

    [ local features | global features | zeros up to F | one-hot agent id (N) ]

* local: for each joint within `obsk` hops of the agent's joints in the kinematic joint graph
  (`envs/mabrax/graph.py`), shell by shell (own joints in action order, then distance 1, 2, ... in
  model joint order), and for each category of `k_categories` (per joint, category order):
  `"qpos"` (the joint's qpos entries; (sin, cos) for Reacher), `"qvel"` (its qvel entries, clipped to
  [-10, 10] for Hopper/Walker2d as Brax does), `"cvel"` (linear and angular velocity of the body the
  joint moves, Brax `xd`; each body once per agent), `"cfrc_ext"` (external contact wrench on that body,
  clipped to [-1, 1] as in Gymnasium's Ant; only with `backend="mjx"`, where MJX's
  `rne_postconstraint` computes it).
* global (`global_categories`): `"qpos"` / `"qvel"` of the unactuated joints (the root: free joint or
  root slides/hinge; Reacher's target), leaving out the root x (and y) position exactly as Brax's
  single-agent observation does.
* `obsk=None`: every agent sees the full Brax single-agent observation (then the id).
The agent-id block is the last N columns and padding never touches it. All gathers use indices built
once in Python from joint names and checked to be in range (a JAX gather would clamp silently).

Global state `(state_dim,)`: Brax's single-agent observation (what a single-agent agent sees).
Reward: Brax's single-agent reward, shared `(N,)`. `terminated`: Brax's `done` (unhealthy);
`truncated`: `episode_length` (default 1000) steps reached and not terminated. `info`: Brax's metrics.

Backends (`backend=`): "positional" (default), "generalized", "mjx" (and "spring"), each with Brax's
own per-backend timestep / n_frames / gear settings. Measured throughput on CPU (machine: 2-core CPU
shared with other jobs, jax 0.10.2 CPU, brax 0.14.2; ant_4x2, vmapped batch of 64 envs, jitted
`lax.scan` of 100 random-action steps, compile excluded; from
`python -m experiments.bench_mabrax_backends --task ant_4x2 --batch 64 --steps 100`):

    backend       compile s   env steps/s   (batch 64 x 100 steps, best of 3)
    positional         17.2         5,054
    generalized        15.7         6,174
    mjx                23.2        14,227
    (batch 256 x 50 steps: positional 5,044, mjx 12,907 env steps/s)

Positional stays the default, as the issue asks, but on this CPU it is measured the *slowest*: mjx
(MuJoCo's own solver, as Brax configures it: Newton, 1 iteration, 4 line-search steps, 5 frames) is
~2.5x faster than positional (10 frames of 0.005 s) and is the only backend offering `cfrc_ext`;
generalized is in between. Prefer `backend="mjx"` for speed on CPU; re-measure on an accelerator.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from envs.core import Array, Box, EnvSpec, MultiAgentEnv, PRNGKey, TimeStep, check_action
from envs.mabrax.graph import JointGraph, actuated_joint_names, build_joint_graph, k_hop_shells
from envs.mabrax.partitions import ROBOTS, Partition, get_partition

JOINT_CATEGORIES = ("qpos", "qvel")
BODY_CATEGORIES = ("cvel", "cfrc_ext")
GLOBAL_CATEGORIES = ("qpos", "qvel")
BACKENDS = ("positional", "generalized", "mjx", "spring")


@struct.dataclass
class MaBraxParams:
    episode_length: Array  # () int32: truncate after this many steps


@struct.dataclass
class MaBraxState:
    pipeline: Any  # brax.envs.base.State of the raw Brax env
    t: Array  # () int32: steps taken in this episode


def _brax_env(name: str, backend: str, **kwargs):
    return _cached_brax_env(name, backend, tuple(sorted(kwargs.items())))


@functools.lru_cache(maxsize=32)
def _cached_brax_env(name: str, backend: str, kwargs: tuple):
    # Loading a robot's MJCF takes seconds; the raw Brax env is stateless, so tasks share it.
    import brax.envs  # heavy: imported only when an environment is built

    return brax.envs.get_environment(name, backend=backend, **dict(kwargs))


class MaBraxEnv(MultiAgentEnv[MaBraxState, MaBraxParams]):
    """A Brax robot whose actuated joints are partitioned among agents (see module docstring)."""

    def __init__(
        self,
        robot: str,
        partition: str | Partition,
        obsk: int | None = 1,
        backend: str = "positional",
        k_categories: Sequence[str] | Sequence[Sequence[str]] = JOINT_CATEGORIES,
        global_categories: Sequence[str] = GLOBAL_CATEGORIES,
        agent_id: bool = True,
        episode_length: int = 1000,
        brax_kwargs: dict | None = None,
    ):
        if robot not in ROBOTS:
            raise ValueError(f"unknown robot {robot!r}; known: {sorted(ROBOTS)}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
        self.robot = robot
        self.robot_spec = ROBOTS[robot]
        self.partition_name = partition if isinstance(partition, str) else "custom"
        self.backend = backend
        self.obsk = obsk
        self.agent_id = agent_id
        self._episode_length = int(episode_length)
        self.brax_env = _brax_env(self.robot_spec.brax_name, backend, **(brax_kwargs or {}))
        model = self.brax_env.sys.mj_model
        self.graph: JointGraph = build_joint_graph(model)
        self.agent_joints: Partition = get_partition(robot, partition)
        self.num_agents = len(self.agent_joints)
        self.act_dim = max(len(a) for a in self.agent_joints)

        # --- actions: Brax actuator a reads padded joint-action entry brax_action_index[a] -------------
        self.actuated_joints = actuated_joint_names(model)  # Brax action order
        owner = {}
        for i, joints in enumerate(self.agent_joints):
            for slot, j in enumerate(joints):
                if j in owner:
                    raise ValueError(f"joint {j!r} is given to agents {owner[j][0]} and {i}")
                owner[j] = (i, slot)
        missing = [j for j in self.actuated_joints if j not in owner]
        extra = [j for j in owner if j not in self.actuated_joints]
        if missing or extra:
            raise ValueError(
                f"partition must cover each actuated joint of {robot} exactly once: "
                f"missing {missing}, not actuated {extra}; actuated joints: {self.actuated_joints}"
            )
        self.brax_action_index = np.array(
            [owner[j][0] * self.act_dim + owner[j][1] for j in self.actuated_joints], np.int32
        )
        mask = np.zeros((self.num_agents, self.act_dim), bool)
        for i, joints in enumerate(self.agent_joints):
            mask[i, : len(joints)] = True
        self._action_mask = mask

        # --- observations -------------------------------------------------------------------------
        if isinstance(k_categories, str):
            raise TypeError("k_categories must be a sequence of category names, not a string")
        cats = list(k_categories)
        per_depth = [tuple(c) for c in cats] if cats and not isinstance(cats[0], str) else [tuple(cats)]
        for depth in per_depth:
            for c in depth:
                if c not in JOINT_CATEGORIES + BODY_CATEGORIES:
                    known = JOINT_CATEGORIES + BODY_CATEGORIES
                    raise ValueError(f"unknown k_category {c!r}; choose from {known}")
        for c in global_categories:
            if c not in GLOBAL_CATEGORIES:
                raise ValueError(f"unknown global category {c!r}; choose from {GLOBAL_CATEGORIES}")
        self._use_cfrc = any("cfrc_ext" in d for d in per_depth) and obsk is not None
        self._use_cvel = any("cvel" in d for d in per_depth) and obsk is not None
        if self._use_cfrc and backend != "mjx":
            raise ValueError("k_category 'cfrc_ext' needs backend='mjx' (other Brax pipelines lack cfrc_ext)")
        self.k_categories = tuple(per_depth)
        self.global_categories = tuple(global_categories)
        self._layout = self._source_layout(model)
        self._sincos_mask = self._actuated_qpos_mask(model)
        if obsk is None:
            self.obs_feature_names = tuple(
                tuple(f"brax_obs:{m}" for m in range(self.brax_env.observation_size))
                for _ in range(self.num_agents)
            )
            idx = None
        else:
            names, rows = [], []
            for joints in self.agent_joints:
                n, r = self._agent_features(model, joints, obsk)
                names.append(tuple(n))
                rows.append(r)
            self.obs_feature_names = tuple(names)
            width = max(len(r) for r in rows)
            pad = self._layout["size"]  # index of the constant zero appended to the source vector
            idx = np.full((self.num_agents, width), pad, np.int32)
            for i, r in enumerate(rows):
                idx[i, : len(r)] = r
            if idx.min() < 0 or idx.max() > pad:
                raise AssertionError(f"observation index out of range [0, {pad}]: {idx.min()}..{idx.max()}")
        self.obs_index = idx  # (N, F) int32 into the source vector, or None for obsk=None
        self.feature_dim = self.brax_env.observation_size if idx is None else idx.shape[1]
        self.obs_dim = self.feature_dim + (self.num_agents if agent_id else 0)
        self.state_dim = self.brax_env.observation_size
        self._spec = EnvSpec(
            num_agents=self.num_agents,
            obs_dim=self.obs_dim,
            state_dim=self.state_dim,
            action_space=Box(-1.0, 1.0, self.act_dim),
            agent_names=tuple(f"agent_{i}" for i in range(self.num_agents)),
        )

    # --- layout of the per-step source vector -----------------------------------------------------
    def _source_layout(self, model: mujoco.MjModel) -> dict:
        """Offsets of each block of the flat source vector built by `_source` every step.

        source = [qpos-features (nq, or sin(nq) ++ cos(nq)) | qvel (nv) | body vel (nbody-1, 6)
                  | cfrc_ext (nbody-1, 6) | 0]; body blocks present only when requested.
        """
        nq, nv, nlink = model.nq, model.nv, model.nbody - 1
        off = {"qpos": 0}
        size = 2 * nq if self.robot_spec.qpos_sincos else nq
        off["qvel"] = size
        size += nv
        if self._use_cvel:
            off["cvel"] = size
            size += 6 * nlink
        if self._use_cfrc:
            off["cfrc_ext"] = size
            size += 6 * nlink
        off["size"] = size
        off["nq"], off["nv"] = nq, nv
        return off

    def _joint(self, model: mujoco.MjModel, name: str) -> int:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if jid < 0:
            raise ValueError(f"no joint {name!r} in {self.robot}")
        return jid

    @staticmethod
    def _joint_width(model: mujoco.MjModel, jid: int) -> tuple[int, int]:
        t = int(model.jnt_type[jid])
        if t == int(mujoco.mjtJoint.mjJNT_FREE):
            return 7, 6
        if t == int(mujoco.mjtJoint.mjJNT_BALL):
            return 4, 3
        return 1, 1  # hinge, slide

    def _qpos_idx(self, model, jid) -> tuple[list[int], list[str]]:
        nq_j, _ = self._joint_width(model, jid)
        adr = int(model.jnt_qposadr[jid])
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, jid)
        if self.robot_spec.qpos_sincos:
            nq = self._layout["nq"]
            idx = [adr + m for m in range(nq_j)] + [nq + adr + m for m in range(nq_j)]
            return idx, [f"sin_qpos:{name}:{m}" for m in range(nq_j)] + [
                f"cos_qpos:{name}:{m}" for m in range(nq_j)
            ]
        return [adr + m for m in range(nq_j)], [f"qpos:{name}:{m}" for m in range(nq_j)]

    def _qvel_idx(self, model, jid) -> tuple[list[int], list[str]]:
        _, nv_j = self._joint_width(model, jid)
        adr = int(model.jnt_dofadr[jid])
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, jid)
        base = self._layout["qvel"]
        return [base + adr + m for m in range(nv_j)], [f"qvel:{name}:{m}" for m in range(nv_j)]

    def _agent_features(self, model, joints, k) -> tuple[list[str], list[int]]:
        names: list[str] = []
        idx: list[int] = []
        seen_bodies: dict[str, set] = {c: set() for c in BODY_CATEGORIES}
        for d, shell in enumerate(k_hop_shells(self.graph, joints, k)):
            cats = self.k_categories[min(d, len(self.k_categories) - 1)]
            for j in shell:
                jid = self._joint(model, j)
                for c in cats:
                    if c == "qpos":
                        i, n = self._qpos_idx(model, jid)
                    elif c == "qvel":
                        i, n = self._qvel_idx(model, jid)
                    else:  # body categories: the body the joint moves, once per agent
                        body = int(model.jnt_bodyid[jid])
                        if body in seen_bodies[c]:
                            continue
                        seen_bodies[c].add(body)
                        base = self._layout[c] + 6 * (body - 1)  # Brax link = MuJoCo body - 1 (no world)
                        i = list(range(base, base + 6))
                        n = [f"{c}:body{body}:{m}" for m in range(6)]
                    idx += i
                    names += n
        g_names, g_idx = self._global_features(model)
        return names + g_names, idx + g_idx

    def _global_features(self, model) -> tuple[list[str], list[int]]:
        actuated = set(self.actuated_joints)
        roots = [
            j for j in range(model.njnt)
            if mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) not in actuated
        ]  # fmt: skip
        names: list[str] = []
        idx: list[int] = []
        for c in self.global_categories:
            ci, cn = [], []
            for jid in roots:
                if c == "qpos":
                    nq_j, _ = self._joint_width(model, jid)
                    adr = int(model.jnt_qposadr[jid])
                    jn = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, jid)
                    ci += [adr + m for m in range(nq_j)]  # raw qpos, also for Reacher's target slides
                    cn += [f"root_qpos:{jn}:{m}" for m in range(nq_j)]
                elif self.robot_spec.root_qvel:
                    i, n = self._qvel_idx(model, jid)
                    ci, cn = ci + i, cn + ["root_" + s for s in n]
            if c == "qpos":
                ci, cn = ci[self.robot_spec.root_qpos_skip :], cn[self.robot_spec.root_qpos_skip :]
            idx += ci
            names += cn
        return names, idx

    def _source(self, ps) -> Array:
        q, qd = ps.q, ps.qd
        if self.robot_spec.qvel_clip is not None:
            qd = jnp.clip(qd, -self.robot_spec.qvel_clip, self.robot_spec.qvel_clip)
        if self.robot_spec.qpos_sincos:  # [sin of actuated angles, other qpos raw | cos(qpos)]
            parts = [jnp.where(self._sincos_mask, jnp.sin(q), q), jnp.cos(q)]
        else:
            parts = [q]
        parts.append(qd)
        if self._use_cvel:
            parts += [jnp.concatenate([ps.xd.vel, ps.xd.ang], axis=-1).reshape(-1)]
        if self._use_cfrc:
            from mujoco import mjx

            cfrc = mjx.rne_postconstraint(self.brax_env.sys, ps).cfrc_ext[1:]
            parts += [jnp.clip(cfrc, -1.0, 1.0).reshape(-1)]
        parts.append(jnp.zeros((1,), q.dtype))
        return jnp.concatenate(parts).astype(jnp.float32)

    def _actuated_qpos_mask(self, model: mujoco.MjModel) -> np.ndarray:
        """qpos entries of actuated joints (observed as sin/cos when `qpos_sincos`); others stay raw."""
        m = np.zeros(model.nq, bool)
        for j in self.actuated_joints:
            jid = self._joint(model, j)
            adr = int(model.jnt_qposadr[jid])
            m[adr : adr + self._joint_width(model, jid)[0]] = True
        return m

    def _obs(self, bstate) -> Array:
        if self.obs_index is None:
            feats = jnp.broadcast_to(bstate.obs.astype(jnp.float32), (self.num_agents, self.feature_dim))
        else:
            feats = self._source(bstate.pipeline_state)[self.obs_index]
        if self.agent_id:
            feats = jnp.concatenate([feats, jnp.eye(self.num_agents, dtype=jnp.float32)], axis=1)
        return feats

    # --- MultiAgentEnv API ------------------------------------------------------------------------
    def default_params(self) -> MaBraxParams:
        return MaBraxParams(episode_length=jnp.asarray(self._episode_length, jnp.int32))

    def spec(self, params: MaBraxParams | None = None) -> EnvSpec:
        return self._spec

    @property
    def name(self) -> str:
        return f"{self.robot}_{self.partition_name}"

    def to_brax_action(self, action: Array) -> Array:
        """Joint action `(N, act_dim)` -> Brax action vector `(num_actuators,)` (padding never read)."""
        return jnp.clip(action.astype(jnp.float32), -1.0, 1.0).reshape(-1)[self.brax_action_index]

    def from_brax_action(self, brax_action: Array) -> Array:
        """Brax action vector -> joint action `(N, act_dim)`, zeros in padded dimensions."""
        flat = jnp.zeros((self.num_agents * self.act_dim,), jnp.float32)
        flat = flat.at[self.brax_action_index].set(brax_action.astype(jnp.float32))
        return flat.reshape(self.num_agents, self.act_dim)

    def _timestep(self, bstate, reward, terminated, truncated) -> TimeStep:
        return TimeStep(
            obs=self._obs(bstate),
            state=bstate.obs.astype(jnp.float32),
            action_mask=jnp.asarray(self._action_mask),
            reward=jnp.broadcast_to(jnp.asarray(reward, jnp.float32), (self.num_agents,)),
            terminated=jnp.asarray(terminated, bool),
            truncated=jnp.asarray(truncated, bool),
            info={k: jnp.asarray(v, jnp.float32) for k, v in bstate.metrics.items()},
        )

    @staticmethod
    def _strong(bstate):
        # Brax's step fills metrics with Python floats / weak-typed scalars where reset has float32
        # arrays; fixing every leaf's dtype keeps reset and step states one type (no retrace, and
        # `lax.scan` / `jnp.where` in the auto-reset see identical carries).
        return jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.asarray(x).dtype), bstate)

    def reset(self, key: PRNGKey, params: MaBraxParams) -> tuple[MaBraxState, TimeStep]:
        bstate = self._strong(self.brax_env.reset(key))
        state = MaBraxState(pipeline=bstate, t=jnp.zeros((), jnp.int32))
        return state, self._timestep(bstate, 0.0, False, False)

    def step(
        self, key: PRNGKey, state: MaBraxState, action: Array, params: MaBraxParams
    ) -> tuple[MaBraxState, TimeStep]:
        check_action(self._spec, action)
        bstate = self._strong(self.brax_env.step(state.pipeline, self.to_brax_action(action)))
        t = state.t + 1
        terminated = bstate.done > 0.5
        truncated = jnp.logical_and(t >= params.episode_length, jnp.logical_not(terminated))
        return MaBraxState(pipeline=bstate, t=t), self._timestep(bstate, bstate.reward, terminated, truncated)
