"""The environment contract (`envs/core.py`), written once and run over every task in `envs.registered_tasks()`.

The task list comes from the registry, so a newly registered task is checked without touching this file. Registry
entries that are factories needing arguments ("matrix", "smaxv2") are built with CONSTRUCTOR_KWARGS;
`test_every_registered_task_builds` fails for a new entry that builds neither without arguments nor from that table.

Compiling a task costs 2-10 s for the matrix and grid tasks, ~20 s for an SMAXv2 scenario and 20-45 s for a MaMuJoCo
robot on a 2-core CPU, so the checks come in two tiers:

* `test_traced_contract` (every task; nothing compiled): `reset` and `step` of the raw env and of the wrapped env
  (`envs.make_wrapped`) traced with `jax.eval_shape` through `jax.jit(chex.assert_max_traces(f, n=1))`.
  - spec: a hashable `EnvSpec`, the same through the wrappers, `num_agents` as the env's;
  - TimeSteps of reset and step: obs (N, obs_dim) float32, state (state_dim,) float32, action_mask
    (N, num_actions | act_dim) bool, reward (N,) float32, terminated / truncated () bool, info a dict of
    scalars; identical pytree structure, shapes and dtypes (and weak types) at reset and after a step, and so
    the env state too; wrapped: `info["final_obs"]` / `["final_state"]` of obs / state shape,
    `info["episode"]` holds `return`, `length`, `reward_per_step` and every env info key;
  - no retracing: `step` is traced once over calls with other keys, on the state from `reset` and then on the
    state from `step`, and with the default params and then other params values of the same shapes and dtypes
    (so params can be swept); `reset` likewise. jit's trace cache is keyed by exactly these abstract values.
    The wrapped env is traced with the raw env's jitted reset and step in place of its methods (for the test):
    the wrappers must call them with the same abstract values, and the raw env is not traced twice.
* `test_wrong_action_shape_is_rejected` (every task; traced): for envs whose `step` calls
  `envs.core.check_action` (seen by spying on it; others are skipped), joint actions with an agent too many, an
  extra axis or no agent axis raise its ValueError, on the raw and on the wrapped env.
* `test_rollout_contract` (compiled): the wrapped env, NUM_ENVS vmapped envs for NUM_STEPS steps of uniform
  random available actions (discrete) or uniform actions in the Box (continuous), a Python loop over one
  jitted step (`chex.assert_max_traces(n=1)`, so no retracing over calls with other keys and states).
  - masks: every agent has an available action (discrete) / owns an action dimension (continuous), at reset
    and at every step;
  - obs, state, reward and every float in info (final obs/state, episode statistics) are finite;
  - reset TimeSteps are not done; terminated and truncated are never both True (every env guarantees it:
    truncation is `time limit & ~terminated`, or never) and `done == terminated | truncated`;
  - every env finishes episodes and is auto-reset; `final_obs` / `final_state` equal `obs` / `state` where no
    episode ended; the reported episode length and return match the steps and rewards since the previous end;
    `reward_per_step` is that return / length; no episode outlasts the time limit and truncation happens exactly
    at it;
  - determinism: the same key gives a bitwise identical rollout (TimeSteps and actions), another key a
    different one (matrix games are deterministic given actions: their actions differ).
  The raw env's values are checked through the wrapped one (a raw rollout would compile the task again for no
  new check): `final_obs`, `final_state`, `reward`, `terminated`, `truncated` and the env's info are the raw
  `step`'s outputs at every step, and `obs`, `state`, `action_mask` the raw `step`'s or (after an episode
  ended) the raw `reset`'s.
  Time limits: params fields named in TIME_LIMIT_FIELDS are capped at NUM_STEPS // 2 so that episodes end
  (MaMuJoCo's limit is 1000 steps); a new task with neither termination nor a time limit of one of these names
  fails "finished no episode" until its field is added there. Tasks whose reset and step trace to the same
  jaxprs and constants (predator_prey_p0 ... _p15 and predator_prey_authors_*; climbing and penalty) share one
  compiled rollout, each run with its own params.
  Marked slow (`pytest -m slow`): the compiled tier of the MaMuJoCo, SMAXv2 and jumanji tasks (COSTLY_MODULES)
  except FAST_REPRESENTATIVES: `protoss_5v5` (random battles of 40+ steps end or hit the capped limit),
  `lbf_2s-8x8-2p-2f-coop` and `rware_tiny-2ag` (jumanji's LBF and RWARE through envs/jumanji_adapter.py: 6-15 s
  each to compile, 13 tasks; random RWARE robots collide, so its episodes both terminate and truncate). For the
  other tasks of these modules the fast suite checks the traced tier only (no values: masks, finiteness).
  `hopper_3x1` (the cheapest robot to compile; random hoppers fall, so episodes both terminate and truncate) was
  the MaMuJoCo representative until make test's budget moved it under -m slow too (35 s).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
import envs.core
import envs.registry

# Registry entries that cannot be built without arguments: the arguments the contract builds them with. The
# "matrix" game is a 3-agent general-sum repeated game with unequal action counts (padded masks, per-agent
# rewards, last-action observations with a time feature), so it covers the paths the presets do not.
CONSTRUCTOR_KWARGS: dict[str, dict] = {
    "matrix": dict(
        payoffs=(np.arange(3 * 2 * 3 * 2).reshape(3, 2, 3, 2) % 7 - 3.0).tolist(),
        episode_length=3,
        obs_mode="last_action",
    ),
    "smaxv2": dict(race="terran", n_allies=3, n_enemies=4),
}

NUM_ENVS = 8
NUM_STEPS = 128  # time limits capped at 64: random SMAXv2 battles and hoppers both end and get truncated
# Params fields holding a time limit (predator-prey and bridge, SMAXv2, MaMuJoCo); capped at NUM_STEPS // 2.
TIME_LIMIT_FIELDS = ("max_steps", "episode_limit", "episode_length")
# Registry modules whose tasks take 6-60 s each to compile: their compiled tier is slow but for a few.
COSTLY_MODULES = ("envs.mabrax", "envs.smaxv2", "envs.jumanji_adapter")
# no MaMuJoCo task among them since 2026-12-04 (make test's 15-minute budget: hopper_3x1 took 35 s); MaMuJoCo's
# step is checked against Brax in test_mabrax.py, and every task builds in test_every_registered_task_builds
FAST_REPRESENTATIVES = ("protoss_5v5", "lbf_2s-8x8-2p-2f-coop", "rware_tiny-2ag")
WRAPPER_INFO = ("final_obs", "final_state", "final_action_mask", "episode", "episode_done")

TASKS = envs.registered_tasks()


def _module(task: str) -> str:
    return envs.registry._TASKS[task].split(":")[0]  # where the registry builds it from (no import)


def _rollout_param(task: str):
    slow = _module(task).startswith(COSTLY_MODULES) and task not in FAST_REPRESENTATIVES
    return pytest.param(task, marks=pytest.mark.slow) if slow else task


@functools.cache
def _wrapped(task: str):
    return envs.make_wrapped(task, **CONSTRUCTOR_KWARGS.get(task, {}))


def _raw(task: str):
    return _wrapped(task).unwrapped  # the env `envs.make` builds (building MaMuJoCo takes seconds: once)


def _action_aval(spec: envs.EnvSpec, shape=None) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(spec.action_shape() if shape is None else shape,
                                jnp.int32 if spec.discrete else jnp.float32)


def _strong(tree):
    """Abstract values of the same shapes and dtypes, never weak-typed (other values of the same params)."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), jnp.result_type(x)), tree)


def _avals(tree) -> list:
    return [(tuple(x.shape), jnp.dtype(x.dtype), bool(getattr(x, "weak_type", False))) for x in jax.tree.leaves(tree)]


def _assert_same_avals(a, b, what: str) -> None:
    assert jax.tree.structure(a) == jax.tree.structure(b), f"{what}: pytree structures differ"
    for path_x, y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True):
        path, x = path_x
        got, want = _avals([y]), _avals([x])
        assert got == want, f"{what}: {jax.tree_util.keystr(path)} is {got[0]}, was {want[0]} (shape, dtype, weak)"


def _no_retrace(fn, what: str):
    """Call `fn`; a second trace of a `chex.assert_max_traces(n=1)` function fails with `what` explained."""
    try:
        return fn()
    except AssertionError as err:
        if "[Chex]" not in str(err) or str(err).startswith("retraced:"):
            raise
        raise AssertionError(f"retraced: {what}\n{err}") from None


def _check_timestep(ts, spec: envs.EnvSpec, batch: tuple = (), *, wrapped: bool) -> None:
    """Shapes and dtypes of a TimeStep (abstract or concrete; `batch` leading axes) against `spec`."""
    n = spec.num_agents
    want = {
        "obs": ((*batch, n, spec.obs_dim), jnp.float32),
        "state": ((*batch, spec.state_dim), jnp.float32),
        "action_mask": ((*batch, n, spec.action_dim), jnp.bool_),
        "reward": ((*batch, n), jnp.float32),
        "terminated": (batch, jnp.bool_),
        "truncated": (batch, jnp.bool_),
    }
    if wrapped:
        want["final_obs"] = want["obs"]
        want["final_state"] = want["state"]
        want["final_action_mask"] = want["action_mask"]
        want["episode_done"] = (batch, jnp.bool_)
    assert isinstance(ts, envs.TimeStep), type(ts)
    assert isinstance(ts.info, dict), f"info must be a dict, got {type(ts.info)}"
    for name, (shape, dtype) in want.items():
        x = ts.info[name] if name in WRAPPER_INFO else getattr(ts, name)
        got = (tuple(x.shape), jnp.dtype(x.dtype))
        assert got == (shape, jnp.dtype(dtype)), f"{name}: got {got}, want {(shape, jnp.dtype(dtype))}"
    env_info = {k: v for k, v in ts.info.items() if not (wrapped and k in WRAPPER_INFO)}
    for k, v in env_info.items():
        assert hasattr(v, "shape") and tuple(v.shape) == batch, f"info[{k!r}] must be a scalar array, got {v!r}"
    if wrapped:
        episode = ts.info["episode"]
        assert isinstance(episode, dict)
        assert set(episode) == {"return", "length", "reward_per_step", *env_info}, sorted(episode)
        for k, v in episode.items():
            got = (tuple(v.shape), jnp.dtype(v.dtype))
            assert got == (batch, jnp.dtype(jnp.float32)), f"info['episode'][{k!r}]: {got}"


# ---- the registry -----------------------------------------------------------------------------------------------


def test_every_registered_task_builds():
    """Every registry entry builds without arguments, or needs them and is in CONSTRUCTOR_KWARGS."""
    stale = set(CONSTRUCTOR_KWARGS) - set(TASKS)
    assert not stale, f"CONSTRUCTOR_KWARGS names unregistered tasks: {sorted(stale)}"
    missing = [t for t in FAST_REPRESENTATIVES if t not in TASKS]
    assert not missing, f"FAST_REPRESENTATIVES names unregistered tasks: {missing}; pick others"
    for task in TASKS:
        if task in CONSTRUCTOR_KWARGS:
            # Listed only while it needs them (else it belongs with the tasks built with no arguments).
            with pytest.raises((TypeError, ValueError)):
                envs.make(task)
        else:
            try:
                _wrapped(task)  # envs.make(task) inside
            except Exception as err:  # noqa: BLE001 - any failure is reported with the remedy
                pytest.fail(f"envs.make({task!r}) fails without arguments ({type(err).__name__}: {err}); if "
                            "it is a factory that needs arguments, add them to CONSTRUCTOR_KWARGS in this file")
        assert isinstance(_raw(task), envs.MultiAgentEnv) and not isinstance(_raw(task), envs.Wrapper)


# ---- tier 1: traced (every task) --------------------------------------------------------------------------------


_RESET_STATE: dict[tuple[str, bool], object] = {}  # abstract reset states of test_traced_contract, reused


def _traced(env, params, spec, *, wrapped: bool):
    """Trace reset and step (nothing compiled) and check them; the jitted reset and step, and reset's state."""
    reset = jax.jit(chex.assert_max_traces(env.reset, n=1))
    step = jax.jit(chex.assert_max_traces(env.step, n=1))
    action = _action_aval(spec)
    kind = "wrapped" if wrapped else "raw"

    state0, ts0 = jax.eval_shape(reset, jax.random.PRNGKey(0), params)
    _check_timestep(ts0, spec, wrapped=wrapped)
    _no_retrace(lambda: jax.eval_shape(reset, jax.random.PRNGKey(1), _strong(params)),
                f"{kind} reset with other params values of the same shapes and dtypes (a weak-typed or Python "
                "scalar leaf in default_params()?)")

    state1, ts1 = jax.eval_shape(step, jax.random.PRNGKey(2), state0, action, params)
    _check_timestep(ts1, spec, wrapped=wrapped)
    _assert_same_avals(ts0, ts1, f"{kind}: TimeStep of step vs reset")
    _assert_same_avals(state0, state1, f"{kind}: state of step vs reset")
    state2, _ = _no_retrace(
        lambda: jax.eval_shape(step, jax.random.PRNGKey(3), state1, action, _strong(params)),
        f"{kind} step on the state from step (not reset) and other params values")
    _no_retrace(lambda: jax.eval_shape(step, jax.random.PRNGKey(4), state2, action, params), f"{kind} step")
    return reset, step, state0


@pytest.mark.parametrize("task", TASKS)
def test_traced_contract(task):
    raw, wrapped = _raw(task), _wrapped(task)
    params = raw.default_params()
    spec = raw.spec(params)
    assert isinstance(spec, envs.EnvSpec)
    hash(spec)  # static under jit
    assert spec.num_agents == raw.num_agents == wrapped.num_agents
    assert spec.action_dim == (spec.action_space.num_actions if spec.discrete else spec.action_space.act_dim)
    assert wrapped.spec(wrapped.default_params()) == spec
    chex.assert_trees_all_equal(wrapped.default_params(), params)
    chex.clear_trace_counter()  # parametrized tests share chex's counters: count this task's traces only
    reset, step, _RESET_STATE[task, False] = _traced(raw, params, spec, wrapped=False)
    # The wrappers call the raw env through its jitted reset and step just traced: jit's cache spares tracing the
    # raw env again (seconds for MaMuJoCo), and the wrappers must call it with the same abstract values (no retrace).
    raw.reset, raw.step = reset, step  # instance attributes, shadowing the methods
    try:
        _RESET_STATE[task, True] = _no_retrace(lambda: _traced(wrapped, params, spec, wrapped=True)[2],
                                               "the wrappers call the raw reset / step with other abstract values")
    finally:
        del raw.reset, raw.step


# ---- wrong action shapes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_wrong_action_shape_is_rejected(task, monkeypatch):
    raw, wrapped = _raw(task), _wrapped(task)
    params = raw.default_params()
    spec = raw.spec(params)
    calls = []
    real = envs.core.check_action

    def spy(spec_, action):
        calls.append(tuple(action.shape))
        return real(spec_, action)

    packages = {"envs", type(raw).__module__.split(".")[0]}  # envs, and the package the task's env lives in
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in packages and getattr(module, "check_action", None) is real:
            monkeypatch.setattr(module, "check_action", spy)

    want = spec.action_shape()
    n = spec.num_agents
    bad_shapes = [(n + 1, *want[1:]), (*want, 1), want[1:]]  # one agent too many, an extra axis, no agent axis
    for is_wrapped, env in ((False, raw), (True, wrapped)):
        state = _RESET_STATE.get((task, is_wrapped))
        if state is None:  # run without test_traced_contract
            state, _ = jax.eval_shape(env.reset, jax.random.PRNGKey(0), params)
        for shape in bad_shapes:
            calls.clear()
            try:
                jax.eval_shape(env.step, jax.random.PRNGKey(1), state, _action_aval(spec, shape), params)
            except Exception as err:  # noqa: BLE001 - examined below
                error = err
            else:
                error = None
            assert calls, f"{task}: step does not validate its action with envs.core.check_action"
            assert isinstance(error, ValueError), f"action of shape {shape}: {error!r}"
            assert re.search(re.escape(f"action has shape {shape}, expected {want}"), str(error)), str(error)


# ---- tier 2: compiled random episodes ---------------------------------------------------------------------------


def _capped(params):
    """`params` with every time limit of TIME_LIMIT_FIELDS capped at NUM_STEPS // 2, and that limit (or None)."""
    cap, limits = NUM_STEPS // 2, []
    if not dataclasses.is_dataclass(params):
        return params, None
    for field in TIME_LIMIT_FIELDS:
        if hasattr(params, field):
            value = getattr(params, field)
            limit = min(int(value), cap)
            params = params.replace(**{field: jnp.asarray(limit, jnp.result_type(value))})
            limits.append(limit)
    return params, (min(limits) if limits else None)


def _sample(key, mask, space):
    if isinstance(space, envs.Discrete):
        return jax.random.categorical(key, jnp.where(mask, 0.0, -jnp.inf)).astype(jnp.int32)
    return jax.random.uniform(key, mask.shape, jnp.float32, space.low, space.high)


def _rollout_fns(env, spec):
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def reset(key, params):
        return jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, NUM_ENVS), params)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(key, state, mask, params):
        k_act, k_env = jax.random.split(key)
        action = _sample(k_act, mask, spec.action_space)
        keys = jax.random.split(k_env, NUM_ENVS)
        state, ts = jax.vmap(env.step, in_axes=(0, 0, 0, None))(keys, state, action, params)
        return state, ts, action

    def rollout(key, params):
        """(first TimeStep (M, ...), TimeSteps (T, M, ...), actions (T, M, ...)) as numpy."""
        k_reset, k_steps = jax.random.split(key)
        state, first = reset(k_reset, params)
        ts, out = first, []
        for k in np.asarray(jax.random.split(k_steps, NUM_STEPS)):
            state, ts, action = _no_retrace(lambda: step(k, state, ts.action_mask, params),  # noqa: B023
                                            "the jitted step, called on its own output state")
            out.append((ts, action))
        first, out = jax.device_get((first, out))
        steps, actions = jax.tree.map(lambda *xs: np.stack(xs), *out)
        return first, steps, actions

    return rollout


def _check_values(first, steps, actions, spec, limit) -> None:
    _check_timestep(first, spec, (NUM_ENVS,), wrapped=True)
    _check_timestep(steps, spec, (NUM_STEPS, NUM_ENVS), wrapped=True)
    assert actions.shape == (NUM_STEPS, NUM_ENVS, *spec.action_shape())
    for name, ts in (("reset", first), ("step", steps)):
        owns = ts.action_mask.any(-1)
        what = "available action" if spec.discrete else "action dimension"
        assert owns.all(), f"{name}: agents without any {what} at (step, env, agent) {np.argwhere(~owns)[:5]}"
        floats = {"obs": ts.obs, "state": ts.state, "reward": ts.reward, "info": ts.info}
        for path, x in jax.tree_util.tree_leaves_with_path(floats):
            if np.issubdtype(x.dtype, np.floating):
                bad = ~np.isfinite(x)
                assert not bad.any(), f"{name}: non-finite {jax.tree_util.keystr(path)} at {np.argwhere(bad)[:5]}"
    assert not first.terminated.any() and not first.truncated.any(), "reset returned a finished episode"
    assert not first.info["episode_done"].any()

    term, trunc, done = steps.terminated, steps.truncated, steps.info["episode_done"]
    assert not (term & trunc).any(), f"terminated and truncated both True at {np.argwhere(term & trunc)[:5]}"
    np.testing.assert_array_equal(np.asarray(steps.done), term | trunc)
    np.testing.assert_array_equal(done, term | trunc)
    assert done.any(0).all(), (f"envs {np.flatnonzero(~done.any(0))} finished no episode in {NUM_STEPS} steps; if "
                               "the task's time limit is a params field, add its name to TIME_LIMIT_FIELDS")
    # AutoReset: the finished step's obs and state are in final_obs / final_state; equal to obs / state otherwise.
    live = ~done
    np.testing.assert_array_equal(steps.info["final_obs"][live], steps.obs[live])
    np.testing.assert_array_equal(steps.info["final_state"][live], steps.state[live])
    np.testing.assert_array_equal(steps.info["final_action_mask"][live], steps.action_mask[live])
    # EpisodeStats and the time limit: lengths and returns of the episodes since the previous end.
    length = np.zeros(NUM_ENVS, np.int64)
    ret = np.zeros(NUM_ENVS, np.float64)
    for t in range(NUM_STEPS):
        length += 1
        ret += steps.reward[t].mean(-1)
        if limit is not None:
            assert (length <= limit).all(), f"step {t}: episodes longer than the time limit {limit}"
            at_limit = length == limit
            assert done[t][at_limit].all(), f"step {t}: an episode reached the time limit {limit} and went on"
            assert at_limit[trunc[t]].all(), f"step {t}: truncated before the time limit {limit}"
        ended = done[t]
        np.testing.assert_array_equal(steps.info["episode"]["length"][t][ended], length[ended])
        np.testing.assert_allclose(steps.info["episode"]["return"][t][ended], ret[ended], rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(steps.info["episode"]["reward_per_step"][t][ended], ret[ended] / length[ended],
                                   rtol=1e-5, atol=1e-5)
        length[ended], ret[ended] = 0, 0.0


def _program(env, spec, params) -> tuple:
    """What the compiled rollout depends on besides params values: the jaxprs of reset and step and their constants.

    Tasks that differ only in default params values (predator_prey_p0 ... _p15) give equal keys and share one
    compiled rollout, called with their own params: the same program, so the same rollout as their own."""
    key = jax.random.PRNGKey(0)
    state, _ = jax.eval_shape(env.reset, key, params)
    parts = [type(env.unwrapped), spec]
    for closed in (jax.make_jaxpr(env.reset)(key, params),
                   jax.make_jaxpr(env.step)(key, state, _action_aval(spec), params)):
        parts.append(str(closed.jaxpr))
        parts += [(np.shape(c), np.asarray(c).dtype.str, np.asarray(c).tobytes()) for c in closed.consts]
    return tuple(parts)


_ROLLOUTS: dict[tuple, object] = {}


@pytest.mark.parametrize("task", [_rollout_param(t) for t in TASKS])
def test_rollout_contract(task):
    env = _wrapped(task)
    params, limit = _capped(env.default_params())
    spec = env.spec(params)
    program = _program(env, spec, params)
    if program not in _ROLLOUTS:
        _ROLLOUTS[program] = _rollout_fns(env, spec)
    rollout = _ROLLOUTS[program]
    a = rollout(jax.random.PRNGKey(0), params)
    _check_values(*a, spec, limit)
    b = rollout(jax.random.PRNGKey(0), params)
    chex.assert_trees_all_equal(a, b)  # bitwise
    c = rollout(jax.random.PRNGKey(1), params)
    _check_values(*c, spec, limit)
    differ = [not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(c), strict=True)]
    assert any(differ), "another key gave the same rollout (actions and TimeSteps)"
