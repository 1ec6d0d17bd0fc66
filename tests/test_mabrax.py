"""Multi-agent MuJoCo on Brax (envs/mabrax): partitions, joint graph, observations, actions, dynamics.

Fast tests build Brax robots without stepping them (MJCF loading only) and compile a single task
(an Ant with an uneven custom partition, positional backend) shared by a module-scoped fixture.
Heavier checks (Humanoid stepping, mjx) are marked slow. The API contract of every registered task (shapes,
dtypes, retracing; random wrapped episodes) is in tests/test_env_contract.py.
"""

from __future__ import annotations

import re
import types

import chex
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from etils import epath

import envs
from envs.mabrax import make
from envs.mabrax.graph import actuated_joint_names, build_joint_graph, distances, k_hop
from envs.mabrax.partitions import PARTITIONS, ROBOTS, task_names

# MaMuJoCo partitions written out (agent by agent, in action order), as published:
# [v1] Gymnasium-Robotics multiagent_mujoco/obsk.py (mamujoco_v1), [HARL] PKU-MARL/HARL
# harl/envs/mamujoco/multiagent_mujoco/obsk.py. Ant joints are "hip1" there, "hip_1" in the XML.
MAMUJOCO = {
    "ant_2x4": [["hip1", "ankle1", "hip2", "ankle2"], ["hip3", "ankle3", "hip4", "ankle4"]],  # v1
    "ant_2x4d": [["hip1", "ankle1", "hip4", "ankle4"], ["hip2", "ankle2", "hip3", "ankle3"]],  # v1
    "ant_4x2": [["hip1", "ankle1"], ["hip2", "ankle2"], ["hip3", "ankle3"], ["hip4", "ankle4"]],  # v1
    "ant_8x1": [["hip1"], ["ankle1"], ["hip2"], ["ankle2"], ["hip3"], ["ankle3"], ["hip4"], ["ankle4"]],
    "halfcheetah_2x3": [["bthigh", "bshin", "bfoot"], ["fthigh", "fshin", "ffoot"]],  # v1
    "halfcheetah_3x2": [["bfoot", "bshin"], ["bthigh", "ffoot"], ["fshin", "fthigh"]],  # HARL
    "halfcheetah_6x1": [["bthigh"], ["bshin"], ["bfoot"], ["fthigh"], ["fshin"], ["ffoot"]],  # v1
    "hopper_3x1": [["thigh_joint"], ["leg_joint"], ["foot_joint"]],  # v1
    "walker2d_2x3": [
        ["foot_joint", "leg_joint", "thigh_joint"],
        ["foot_left_joint", "leg_left_joint", "thigh_left_joint"],
    ],  # v1
    "walker2d_3x2": [
        ["foot_joint", "leg_joint"],
        ["thigh_joint", "foot_left_joint"],
        ["leg_left_joint", "thigh_left_joint"],
    ],  # HARL
    "walker2d_6x1": [
        ["foot_joint"], ["leg_joint"], ["thigh_joint"],
        ["foot_left_joint"], ["leg_left_joint"], ["thigh_left_joint"],
    ],  # HARL
    "humanoid_9|8": [
        [
            "abdomen_x", "abdomen_y", "abdomen_z", "right_shoulder1", "right_shoulder2", "right_elbow",
            "left_shoulder1", "left_shoulder2", "left_elbow",
        ],
        [
            "right_hip_x", "right_hip_y", "right_hip_z", "right_knee",
            "left_hip_x", "left_hip_y", "left_hip_z", "left_knee",
        ],
    ],  # v1
    "humanoid_17x1": [
        [j] for j in [
            "left_shoulder1", "left_shoulder2", "abdomen_x", "abdomen_y", "abdomen_z",
            "right_shoulder1", "right_shoulder2", "right_elbow", "left_elbow",
            "left_hip_x", "left_hip_y", "left_hip_z", "right_hip_x", "right_hip_y", "right_hip_z",
            "right_knee", "left_knee",
        ]
    ],  # HARL
    "reacher_2x1": [["joint0"], ["joint1"]],  # v1
}  # fmt: skip
MAMUJOCO["humanoidstandup_9|8"] = MAMUJOCO["humanoid_9|8"]
MAMUJOCO["humanoidstandup_17x1"] = MAMUJOCO["humanoid_17x1"]

REQUIRED = [
    "ant_2x4", "ant_2x4d", "ant_4x2", "ant_8x1", "halfcheetah_2x3", "halfcheetah_3x2", "halfcheetah_6x1",
    "hopper_3x1", "walker2d_2x3", "walker2d_3x2", "walker2d_6x1", "humanoid_9|8", "humanoid_17x1",
    "humanoidstandup_9|8", "humanoidstandup_17x1", "reacher_2x1",
]  # fmt: skip

_XML = {"ant": "ant", "halfcheetah": "half_cheetah", "hopper": "hopper", "walker2d": "walker2d",
        "humanoid": "humanoid", "humanoidstandup": "humanoidstandup", "reacher": "reacher"}  # fmt: skip


def _mamujoco_name(j: str) -> str:
    return re.sub(r"^(hip|ankle)_(\d)$", r"\1\2", j)


def _model(robot: str, fused: bool = False) -> mujoco.MjModel:
    path = epath.resource_path("brax") / f"envs/assets/{_XML[robot]}.xml"
    if fused:  # the model Brax builds (static bodies fused into their parents)
        from brax.io import mjcf

        return mjcf.load(path).mj_model
    return mujoco.MjModel.from_xml_path(str(path))


@pytest.fixture(scope="module")
def models():
    return {r: _model(r) for r in ROBOTS}


# --- tables and graph (pure Python, no jit) -------------------------------------------------------


def test_registered_names():
    assert sorted(task_names()) == sorted(REQUIRED)
    for t in REQUIRED:
        assert t in envs.registered_tasks()


@pytest.mark.parametrize("task", REQUIRED)
def test_partition_matches_mamujoco_table(task):
    robot, _, part = task.partition("_")
    ours = [[_mamujoco_name(j) for j in agent] for agent in PARTITIONS[robot][part]]
    assert ours == MAMUJOCO[task]


@pytest.mark.parametrize("task", REQUIRED)
def test_partition_covers_each_actuator_once(task, models):
    robot, _, part = task.partition("_")
    flat = [j for agent in PARTITIONS[robot][part] for j in agent]
    assert sorted(flat) == sorted(actuated_joint_names(models[robot]))
    assert len(flat) == len(set(flat))


def _adjacent_pairs(g):
    return {frozenset((a, b)) for a in g.joint_names for b in g.neighbours[a]}


def test_graph_reproduces_mamujoco_edges(models):
    # MaMuJoCo's hand-written (hyper)edges; ours are derived from the body tree.
    chain = lambda *js: {frozenset(p) for p in zip(js[:-1], js[1:], strict=True)}
    hips = ["hip_1", "hip_2", "hip_3", "hip_4"]
    expect = {
        "halfcheetah": chain("bfoot", "bshin", "bthigh", "fthigh", "fshin", "ffoot"),
        "hopper": chain("foot_joint", "leg_joint", "thigh_joint"),
        "walker2d": chain("foot_joint", "leg_joint", "thigh_joint", "thigh_left_joint", "leg_left_joint",
                          "foot_left_joint"),
        "reacher": chain("joint0", "joint1"),
        "ant": {frozenset((f"hip_{i}", f"ankle_{i}")) for i in range(1, 5)}
        | {frozenset((a, b)) for a in hips for b in hips if a != b},
    }  # fmt: skip
    for robot, edges in expect.items():
        assert _adjacent_pairs(build_joint_graph(models[robot])) == edges, robot


def test_humanoid_graph_close_to_mamujoco(models):
    g = build_joint_graph(models["humanoid"])
    d = distances(g)
    idx = {j: i for i, j in enumerate(g.joint_names)}
    abdomen = ["abdomen_x", "abdomen_y", "abdomen_z"]
    mamujoco_edges = [
        abdomen, ["right_hip_x", "right_hip_y", "right_hip_z", "right_knee"],
        ["left_hip_x", "left_hip_y", "left_hip_z", "left_knee"],
        ["left_elbow", "left_shoulder1", "left_shoulder2"],
        ["right_elbow", "right_shoulder1", "right_shoulder2"],
        ["left_shoulder1", "left_shoulder2", *abdomen], ["right_shoulder1", "right_shoulder2", *abdomen],
        [*abdomen, "left_hip_x", "left_hip_y", "left_hip_z"],
        [*abdomen, "right_hip_x", "right_hip_y", "right_hip_z"],
    ]  # fmt: skip
    for e in mamujoco_edges:
        for a in e:
            for b in e:
                assert d[idx[a], idx[b]] <= 2, (a, b)  # every MaMuJoCo edge within 2 hops of ours
    # exact body-rule edges: joints on one body, parent/child bodies, siblings on one body
    assert g.adjacent("abdomen_z", "abdomen_y") and g.adjacent("abdomen_y", "abdomen_x")
    assert g.adjacent("abdomen_x", "right_hip_y") and g.adjacent("abdomen_z", "left_shoulder2")
    assert g.adjacent("right_knee", "right_hip_z") and not g.adjacent("right_knee", "abdomen_x")
    assert g.adjacent("right_elbow", "right_shoulder1") and not g.adjacent("right_elbow", "abdomen_z")


@pytest.mark.parametrize("robot", ["ant", "humanoid"])
def test_graph_independent_of_body_fusing(robot, models):
    a, b = build_joint_graph(models[robot]), build_joint_graph(_model(robot, fused=True))
    assert a.joint_names == b.joint_names and _adjacent_pairs(a) == _adjacent_pairs(b)


@pytest.mark.parametrize("task", REQUIRED)
def test_khop_monotone(task, models):
    robot, _, part = task.partition("_")
    g = build_joint_graph(models[robot])
    for agent in PARTITIONS[robot][part]:
        prev = k_hop(g, agent, 0)
        assert prev == list(agent)
        for k in range(1, 6):
            cur = k_hop(g, agent, k)
            assert cur[: len(prev)] == prev and len(set(cur)) == len(cur)
            prev = cur
        assert sorted(prev) == sorted(g.joint_names)  # connected: every joint within 5 hops


# --- observations and actions without stepping (builds Brax systems, compiles nothing heavy) ------


def _fake_pipeline_state(model):
    # Distinct value per qpos / qvel entry so each observed feature can be traced back to its source.
    nlink = model.nbody - 1
    return types.SimpleNamespace(
        q=1000.0 + jnp.arange(model.nq, dtype=jnp.float32) / 100.0,
        qd=2.0 + jnp.arange(model.nv, dtype=jnp.float32) / 100.0,
        xd=types.SimpleNamespace(
            vel=3000.0 + jnp.arange(3 * nlink, dtype=jnp.float32).reshape(nlink, 3),
            ang=4000.0 + jnp.arange(3 * nlink, dtype=jnp.float32).reshape(nlink, 3),
        ),
    )


def _check_features(env):
    """Every observed feature equals the named entry of the pipeline state; indices in range."""
    model = env.brax_env.sys.mj_model
    ps = _fake_pipeline_state(model)
    src = env._source(ps)
    assert env.obs_index.min() >= 0 and env.obs_index.max() < src.shape[0]
    feats = np.asarray(src[env.obs_index])
    assert feats.shape == (env.num_agents, env.feature_dim)
    for i, names in enumerate(env.obs_feature_names):
        assert np.all(feats[i, len(names) :] == 0.0)  # padding is zeros
        for f, name in enumerate(names):
            kind, *rest = name.split(":")
            if kind in ("qpos", "root_qpos", "qvel", "root_qvel"):
                jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, rest[0])
                if "qpos" in kind:
                    want = ps.q[model.jnt_qposadr[jid] + int(rest[1])]
                else:
                    want = ps.qd[model.jnt_dofadr[jid] + int(rest[1])]
                    if env.robot_spec.qvel_clip is not None:
                        want = np.clip(want, -env.robot_spec.qvel_clip, env.robot_spec.qvel_clip)
                assert feats[i, f] == pytest.approx(float(want)), (i, name)
            elif kind == "cvel":
                link, m = int(rest[0].removeprefix("body")) - 1, int(rest[1])
                want = ps.xd.vel[link, m] if m < 3 else ps.xd.ang[link, m - 3]
                assert feats[i, f] == pytest.approx(float(want)), (i, name)
    return feats


@pytest.mark.parametrize("task", ["humanoid_9|8", "humanoid_17x1", "humanoidstandup_9|8", "halfcheetah_6x1"])
def test_indices_in_range_and_named(task):
    # Would have caught JaxMARL's MABrax overflow (tables written for a 376-wide Humanoid observation).
    for k in (0, 1, 2, 4):
        env = envs.make(task, obsk=k, k_categories=("qpos", "qvel", "cvel"))
        _check_features(env)
        assert env.state_dim == env.brax_env.observation_size
        assert env.obs_dim == env.feature_dim + env.num_agents


@pytest.mark.parametrize("task", ["ant_2x4", "humanoid_9|8", "walker2d_3x2", "reacher_2x1"])
def test_features_grow_with_k(task):
    prev = None
    for k in range(4):
        env = envs.make(task, obsk=k, k_categories=("qpos", "qvel", "cvel"))
        names = [set(n) for n in env.obs_feature_names]
        own = [{f"qpos:{j}:0" for j in joints} for joints in env.agent_joints]
        if env.robot_spec.qpos_sincos:
            own = [{f"sin_qpos:{j}:0" for j in joints} for joints in env.agent_joints]
        assert all(o <= n for o, n in zip(own, names, strict=True))  # an agent sees its own joints
        if prev is not None:
            assert all(p <= n for p, n in zip(prev, names, strict=True)), k
        prev = names


@pytest.mark.parametrize("task", REQUIRED)
def test_action_mapping_by_name(task):
    env = envs.make(task)
    model = env.brax_env.sys.mj_model
    brax_action = jnp.linspace(-0.9, 0.9, model.nu)
    joint = env.from_brax_action(brax_action)
    assert joint.shape == (env.num_agents, env.act_dim)
    np.testing.assert_array_equal(env.to_brax_action(joint), brax_action)
    for i, joints in enumerate(env.agent_joints):
        for slot, j in enumerate(joints):
            a = actuated_joint_names(model).index(j)
            assert joint[i, slot] == brax_action[a]
    mask = env.spec().action_space
    assert mask.act_dim == max(len(a) for a in env.agent_joints)


# --- one compiled task ---------------------------------------------------------------------------

# Uneven on purpose (padding), and Ant's actuators are ordered hip_4, ankle_4, hip_1, ... in Brax.
UNEVEN = (("hip_1", "ankle_1", "hip_2"), ("ankle_2",), ("ankle_4", "hip_4", "hip_3", "ankle_3"))


@pytest.fixture(scope="module")
def ant():
    env = make("ant", UNEVEN, obsk=1)
    params = env.default_params()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(key, state, action):
        return env.step(key, state, action, params)

    reset = jax.jit(lambda key: env.reset(key, params))
    brax_step = jax.jit(env.brax_env.step)
    return types.SimpleNamespace(env=env, params=params, step=step, reset=reset, brax_step=brax_step)


def test_spec_and_shapes(ant):
    env = ant.env
    state, ts = ant.reset(jax.random.PRNGKey(0))
    spec = env.spec(ant.params)
    assert spec.num_agents == 3 and spec.action_space.act_dim == 4
    assert ts.obs.shape == (3, spec.obs_dim) and ts.obs.dtype == jnp.float32
    assert ts.state.shape == (spec.state_dim,) == (27,)
    np.testing.assert_array_equal(ts.action_mask, [[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(ts.obs[:, -3:], np.eye(3))  # agent id intact after padding
    assert ts.reward.shape == (3,) and ts.terminated.shape == () and ts.truncated.shape == ()
    assert env.agent_joints == UNEVEN


def test_obs_none_equals_brax_observation(ant):
    env = make("ant", UNEVEN, obsk=None)
    key = jax.random.PRNGKey(3)
    _, ts = jax.jit(lambda k: env.reset(k, env.default_params()))(key)
    brax_obs = jax.jit(env.brax_env.reset)(key).obs
    assert env.obs_dim == 27 + 3
    for i in range(3):
        np.testing.assert_array_equal(ts.obs[i, :27], brax_obs)
    np.testing.assert_array_equal(ts.state, brax_obs)


def test_authors_obsk_settings_through_env_kw():
    """The AgentMixer authors' MaMuJoCo observations (experiments/presets.py MUJOCO_OBSK_CHOICES), written as the
    CLI's `--env-kw` over the preset's obsk=2: obsk=0 (2023 scripts) gives each agent its own joints and the root,
    obsk=None (2024 script) every agent the full single-agent observation (test_obs_none_equals_brax_observation;
    not built again here: a robot costs 1-5 s to build)."""
    from experiments.presets import MUJOCO_OBSK_CHOICES, env_kwargs
    from experiments.train import parse_env_kw

    assert MUJOCO_OBSK_CHOICES == {"preset": 2, "authors_2023": 0, "authors_2024": None}
    assert env_kwargs("ant_4x2") == {"obsk": 2}
    for value in (0, None):
        kw = {**env_kwargs("ant_4x2"), **parse_env_kw((f"obsk={value}",))}
        assert kw == {"obsk": value}
    env = envs.make("ant_4x2", **{**env_kwargs("ant_4x2"), **parse_env_kw(("obsk=0",))})  # the Ant is cached
    assert env.obsk == 0
    for joints, names in zip(env.agent_joints, env.obs_feature_names):
        local = {n.split(":")[1] for n in names if not n.startswith("root_")}
        assert local == set(joints), (joints, names)


def test_step_matches_brax_and_padding_is_ignored(ant):
    env = ant.env
    key = jax.random.PRNGKey(1)
    state, _ = ant.reset(key)
    for t in range(3):
        k_act, k_pad, key = jax.random.split(jax.random.fold_in(key, t), 3)
        brax_action = jax.random.uniform(k_act, (8,), minval=-1.0, maxval=1.0)
        action = env.from_brax_action(brax_action)
        junk = jnp.where(jnp.asarray(env._action_mask), action, jax.random.normal(k_pad, action.shape) * 5)
        ref = ant.brax_step(state.pipeline, brax_action)
        new, ts = ant.step(key, state, action)
        new_junk, ts_junk = ant.step(key, state, junk)
        for got in (new, new_junk):
            np.testing.assert_array_equal(got.pipeline.pipeline_state.q, ref.pipeline_state.q)
            np.testing.assert_array_equal(got.pipeline.pipeline_state.qd, ref.pipeline_state.qd)
        np.testing.assert_array_equal(ts.state, ref.obs)
        np.testing.assert_array_equal(ts.obs, ts_junk.obs)
        np.testing.assert_array_equal(ts.reward, jnp.full((3,), ref.reward))
        assert bool(ts.terminated) == bool(ref.done > 0.5)
        state = new
    assert int(state.t) == 3


def test_observation_reads_named_joints_after_step(ant):
    env = ant.env
    state, _ = ant.reset(jax.random.PRNGKey(2))
    state, ts = ant.step(jax.random.PRNGKey(5), state, jnp.full((3, 4), 0.3, jnp.float32))
    ps = state.pipeline.pipeline_state
    model = env.brax_env.sys.mj_model
    for i, names in enumerate(env.obs_feature_names):
        for f, name in enumerate(names):
            kind, joint, m = name.split(":")
            jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)
            if "qpos" in kind:
                src = ps.q[model.jnt_qposadr[jid] + int(m)]
            else:
                src = ps.qd[model.jnt_dofadr[jid] + int(m)]
            assert ts.obs[i, f] == src, (i, name)


def test_truncation_kept_apart_and_no_retrace(ant):
    env = ant.env
    params = ant.params.replace(episode_length=jnp.asarray(2, jnp.int32))
    step = jax.jit(chex.assert_max_traces(n=1)(lambda k, s, a, p: env.step(k, s, a, p)))
    state, _ = ant.reset(jax.random.PRNGKey(0))
    zero = jnp.zeros((3, 4))
    state, ts = step(jax.random.PRNGKey(1), state, zero, params)
    assert not bool(ts.truncated) and not bool(ts.terminated)
    state, ts = step(jax.random.PRNGKey(2), state, zero + 0.1, params)
    assert bool(ts.truncated) and not bool(ts.terminated)
    # the module fixture's step was traced once for all the tests above; more calls do not retrace
    s2, _ = ant.reset(jax.random.PRNGKey(9))
    ant.step(jax.random.PRNGKey(9), s2, zero)
    ant.step(jax.random.PRNGKey(10), s2, zero - 0.2)


def test_errors():
    with pytest.raises(ValueError, match="exactly once"):
        make("ant", (("hip_1", "ankle_1"),))
    with pytest.raises(ValueError, match="unknown partition"):
        make("ant", "3x3")
    with pytest.raises(ValueError, match="mjx"):
        make("ant", "4x2", k_categories=("qpos", "cfrc_ext"))
    with pytest.raises(ValueError, match="unknown backend"):
        make("ant", "4x2", backend="warp")


# --- slow ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_humanoid_9_8_steps_like_brax():
    env = envs.make("humanoid_9|8", obsk=1)
    params = env.default_params()
    state, ts = jax.jit(lambda k: env.reset(k, params))(jax.random.PRNGKey(0))
    assert ts.obs.shape == (2, env.obs_dim) and ts.state.shape == (244,)
    brax_action = jax.random.uniform(jax.random.PRNGKey(1), (17,), minval=-1, maxval=1)
    action = env.from_brax_action(brax_action)
    junk = jnp.where(jnp.asarray(env._action_mask), action, 7.0)
    step = jax.jit(lambda s, a: env.step(jax.random.PRNGKey(0), s, a, params))
    new, ts = step(state, action)
    new_junk, _ = step(state, junk)
    ref = jax.jit(env.brax_env.step)(state.pipeline, brax_action)
    np.testing.assert_array_equal(new.pipeline.pipeline_state.q, ref.pipeline_state.q)
    np.testing.assert_array_equal(new_junk.pipeline.pipeline_state.q, ref.pipeline_state.q)
    np.testing.assert_array_equal(ts.state, ref.obs)


@pytest.mark.slow
def test_mjx_backend_with_body_forces():
    env = envs.make("ant_2x4", backend="mjx", k_categories=("qpos", "qvel", "cfrc_ext"))
    params = env.default_params()
    state, ts = jax.jit(lambda k: env.reset(k, params))(jax.random.PRNGKey(0))
    state, ts = jax.jit(lambda s: env.step(jax.random.PRNGKey(1), s, jnp.zeros((2, 4)), params))(state)
    assert bool(jnp.all(jnp.isfinite(ts.obs))) and ts.obs.shape == (2, env.obs_dim)
    assert any(n.startswith("cfrc_ext") for n in env.obs_feature_names[0])
