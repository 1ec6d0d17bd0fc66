"""jumanji's LBF and RWARE through envs/jumanji_adapter.py: equal to jumanji's own outputs step for step, episode ends
(termination vs truncation), clear errors, our env as a jumanji Environment, and a learning check (slow).

The equality check runs the adapter (inside `envs.AutoReset`) and jumanji's env built directly (`jumanji.make` with
the same generator and `time_limit = max_steps`), side by side in one jitted scan over random valid actions, with
the same reset keys (the auto-reset of the raw side is written out with AutoReset's key split)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import jumanji
import numpy as np
import pytest
from jumanji.environments.routing.lbf.generator import RandomGenerator as LbfGenerator
from jumanji.environments.routing.robot_warehouse.generator import RandomGenerator as RwareGenerator
from jumanji.environments.routing.robot_warehouse.types import Position
from jumanji.types import StepType

import envs
from envs.jumanji_adapter import LBF_SCENARIOS, RWARE_SCENARIOS, JumanjiLBF, JumanjiRware, as_jumanji

NUM_ENVS = 32
NUM_STEPS = 300
# A small LBF with partial views (fov 2 on 6x6: unseen items read (-1, -1, 0)), three agents and one food item that
# a single agent may be able to eat, so random episodes both terminate (eaten) and truncate (30 steps); RWARE's
# tiny-2ag, where random robots collide (termination) or reach the 50-step limit (truncation).
SMALL_LBF = dict(grid_size=6, fov=2, num_agents=3, num_food=1, max_agent_level=2, force_coop=False)
CASES = {
    "lbf": ("lbf", dict(SMALL_LBF, max_steps=30)),
    "rware_tiny-2ag": ("rware_tiny-2ag", dict(max_steps=50)),
}


def _raw_jumanji(task: str, kwargs: dict):
    """jumanji's own env for `task` with `kwargs`, built as Mava builds it (mava/utils/make_env.py)."""
    kwargs = dict(kwargs)
    max_steps = kwargs.pop("max_steps")
    if task.startswith("lbf"):
        cfg = {**(LBF_SCENARIOS[task[4:]] if task != "lbf" else {}), **kwargs}
        return jumanji.make("LevelBasedForaging-v0", generator=LbfGenerator(**cfg), time_limit=max_steps)
    cfg = {**RWARE_SCENARIOS[task[6:]], **kwargs}
    return jumanji.make("RobotWarehouse-v0", generator=RwareGenerator(**cfg), time_limit=max_steps)


def _forager(obs, mask, key):
    """LBF with one food item: walk towards the food and load beside it, reading our observation layout (food
    (row, col, level) first, then the agent's own (row, col, level), in the same frame); a random valid action
    while the food is out of view (level 0). obs (N, 3 (1 + N)), mask (N, 6) -> (N,) int32."""
    moves = jnp.array([[-1, 0], [1, 0], [0, -1], [0, 1]])  # actions 1-4: up, down, left, right
    d = obs[:, 0:2] - obs[:, 3:5]  # (N, 2) food minus self
    gain = jnp.where(mask[:, 1:5], (moves[None] * d[:, None]).sum(-1), -jnp.inf)  # (N, 4) distance closed
    walk = jnp.where(jnp.abs(d).sum(-1) == 1, 5, 1 + jnp.argmax(gain, -1))
    rand = jax.random.categorical(key, jnp.where(mask, 0.0, -jnp.inf))
    return jnp.where(obs[:, 2] > 0, walk, rand).astype(jnp.int32)


def _side_by_side(task: str, kwargs: dict, key, scripted: int = 0):
    """Random valid actions, but the first `scripted` envs play `_forager` (LBF)."""
    ours = envs.AutoReset(envs.make(task, **kwargs))
    raw = _raw_jumanji(task, kwargs)
    params = ours.default_params()

    def pick(done, a, b):
        return jax.tree.map(lambda x, y: jnp.where(done.reshape(done.shape + (1,) * (x.ndim - 1)), x, y), a, b)

    @jax.jit
    def run(key):
        k_reset, k_steps = jax.random.split(key)
        reset_keys = jax.random.split(k_reset, NUM_ENVS)
        state, ts = jax.vmap(ours.reset, (0, None))(reset_keys, params)
        raw_state, raw_ts = jax.vmap(raw.reset)(reset_keys)
        first = (state, ts, raw_state, raw_ts.observation)

        def body(carry, key):
            state, ts, raw_state = carry
            k_act, k_env = jax.random.split(key)
            action = jax.random.categorical(k_act, jnp.where(ts.action_mask, 0.0, -jnp.inf)).astype(jnp.int32)
            if scripted:
                keys = jax.random.split(k_act, scripted)
                action = action.at[:scripted].set(jax.vmap(_forager)(ts.obs[:scripted], ts.action_mask[:scripted],
                                                                     keys))
            env_keys = jax.random.split(k_env, NUM_ENVS)
            state, ts = jax.vmap(ours.step, (0, 0, 0, None))(env_keys, state, action, params)
            # jumanji's own env, reset as AutoReset does: key_step, key_reset = split(key), reset when LAST.
            k_reset = jax.vmap(jax.random.split)(env_keys)[:, 1]
            raw_next, raw_ts = jax.vmap(raw.step)(raw_state, action)
            raw_new, raw_ts_reset = jax.vmap(raw.reset)(k_reset)
            last = raw_ts.step_type == StepType.LAST
            rec = dict(ours=ts, raw=raw_ts, raw_reset_obs=raw_ts_reset.observation, count=raw_next.step_count)
            return (state, ts, pick(last, raw_new, raw_next)), rec

        (state, _, raw_state), recs = jax.lax.scan(body, (state, ts, raw_state), jax.random.split(k_steps, NUM_STEPS))
        return first, recs, state, raw_state

    return jax.device_get(run(key))


@pytest.mark.parametrize("case", list(CASES))
def test_equal_to_jumanji_step_by_step(case):
    """Observations, masks, rewards, done flags, info and the env state equal jumanji's own at every step. On LBF
    half of the envs play a scripted forager that reads the observation as the module docstring lays it out; it
    must collect far more than random actions (the layout, action meanings and team reward are as documented)."""
    task, kwargs = CASES[case]
    scripted = NUM_ENVS // 2 if task == "lbf" else 0
    first, recs, state, raw_state = _side_by_side(task, kwargs, jax.random.PRNGKey(0), scripted)
    ours, raw = recs["ours"], recs["raw"]
    n = envs.make(task, **kwargs).num_agents
    # reset
    _, ts0, raw_state0, raw_obs0 = first
    np.testing.assert_array_equal(ts0.obs, raw_obs0.agents_view.astype(np.float32))
    np.testing.assert_array_equal(ts0.action_mask, raw_obs0.action_mask)
    chex.assert_trees_all_equal(first[0], raw_state0)  # our env state is jumanji's own State
    # every step: the finished step's observation, mask, reward and end, and the next episode's first observation
    last = raw.step_type == StepType.LAST  # (T, E)
    raw_obs = raw.observation.agents_view.astype(np.float32)
    np.testing.assert_array_equal(ours.info["final_obs"], raw_obs)
    np.testing.assert_array_equal(ours.info["final_action_mask"], raw.observation.action_mask)
    np.testing.assert_array_equal(ours.obs, np.where(last[..., None, None], recs["raw_reset_obs"].agents_view, raw_obs))
    np.testing.assert_array_equal(ours.action_mask, np.where(last[..., None, None], recs["raw_reset_obs"].action_mask,
                                                             raw.observation.action_mask))
    np.testing.assert_array_equal(ours.done, last)
    if task.startswith("lbf"):
        # the team reward (sum of jumanji's per-agent rewards), repeated; jumanji's discount 0 = termination
        np.testing.assert_allclose(ours.reward, np.repeat(raw.reward.sum(-1, keepdims=True), n, -1), rtol=1e-6)
        np.testing.assert_array_equal(ours.terminated, last & (raw.discount == 0).all(-1))
        np.testing.assert_array_equal(ours.truncated, last & (raw.discount == 1).all(-1))
        np.testing.assert_allclose(ours.info["eaten"] * 100, raw.extras["percent_eaten"], rtol=1e-6)
        np.testing.assert_array_equal(ours.info["won"], ours.terminated)
        forager, rand = ours.reward[:, :scripted, 0].sum() / scripted, ours.reward[:, scripted:, 0].sum() / scripted
        assert forager > 2 * rand + 1.0, (forager, rand)  # team return per env over the 300 steps
    else:
        # RWARE: jumanji's scalar team reward, repeated; jumanji calls its time limit a termination (discount 0),
        # we a truncation: ends before the limit (collisions) are terminations, ends at the limit truncations.
        np.testing.assert_array_equal(ours.reward, np.repeat(raw.reward[..., None], n, -1))
        at_limit = recs["count"] >= kwargs["max_steps"]
        np.testing.assert_array_equal(ours.terminated[~at_limit], last[~at_limit])
        np.testing.assert_array_equal(ours.truncated, last & at_limit & ~ours.terminated)
        np.testing.assert_array_equal(ours.info["collision"], ours.terminated)
        assert (raw.discount[last] == 0).all()
    assert ours.terminated.sum() >= 3 and ours.truncated.sum() >= 3, (ours.terminated.sum(), ours.truncated.sum())
    chex.assert_trees_all_equal(state, raw_state)  # after 300 steps and the resets, still jumanji's state


# ---- termination vs truncation, on constructed states ------------------------------------------------------


@pytest.fixture(scope="module")
def lbf_5x5():
    env = envs.make("lbf", grid_size=5, num_agents=2, num_food=1, force_coop=True, max_steps=10)
    state, _ = jax.jit(env.reset)(jax.random.PRNGKey(0), env.default_params())
    # Agents of level 1 left of and above a level-2 food item at (2, 2); every other cell empty.
    state = state.replace(
        agents=state.agents.replace(position=jnp.array([[2, 1], [1, 2]], jnp.int32),
                                    level=jnp.array([1, 1], jnp.int32)),
        food_items=state.food_items.replace(position=jnp.array([[2, 2]], jnp.int32), level=jnp.array([2], jnp.int32)),
    )
    return env, state, jax.jit(env.step)


def test_lbf_eating_the_last_food_terminates(lbf_5x5):
    env, state, step = lbf_5x5
    params = env.default_params()
    load = jnp.array([5, 5], jnp.int32)
    _, ts = step(jax.random.PRNGKey(1), state, load, params)
    assert bool(ts.terminated) and not bool(ts.truncated)
    np.testing.assert_allclose(ts.reward, [1.0, 1.0])  # the team reward: each agent's 0.5, summed and repeated
    assert bool(ts.info["won"]) and float(ts.info["eaten"]) == 1.0
    # ending in the task at the time-limit step is a termination, not both
    _, ts = step(jax.random.PRNGKey(1), state, load, params.replace(max_steps=jnp.int32(1)))
    assert bool(ts.terminated) and not bool(ts.truncated)
    # one agent alone (level 1 < 2) cannot eat: nothing happens
    _, ts = step(jax.random.PRNGKey(1), state, jnp.array([5, 0], jnp.int32), params)
    assert not bool(ts.done) and float(ts.reward.sum()) == 0.0
    # jumanji's per-agent rewards of that step were 0.5 each: individual_rewards=True keeps them
    solo = envs.make("lbf", grid_size=5, num_agents=2, num_food=1, force_coop=True, individual_rewards=True)
    _, raw_ts = jax.eval_shape(solo.inner.step, state, load)
    per_agent = raw_ts.replace(reward=jnp.array([0.25, 0.75]))
    np.testing.assert_allclose(solo._team_reward(per_agent), [0.25, 0.75])
    np.testing.assert_allclose(env._team_reward(per_agent), [1.0, 1.0])


def test_lbf_time_limit_truncates(lbf_5x5):
    env, state, step = lbf_5x5
    params = env.default_params().replace(max_steps=jnp.int32(3))  # a traced params field: no recompilation
    noop = jnp.zeros((2,), jnp.int32)
    for t in (1, 2, 3):
        state, ts = step(jax.random.PRNGKey(t), state, noop, params)
        assert not bool(ts.terminated)
        assert bool(ts.truncated) == (t == 3)
    # (jumanji's own LBF agrees: LAST with discount 1, checked step by step in test_equal_to_jumanji_...)


@pytest.fixture(scope="module")
def rware_tiny():
    env = envs.make("rware_tiny-2ag", max_steps=10)
    state, _ = jax.jit(env.reset)(jax.random.PRNGKey(0), env.default_params())
    return env, state, jax.jit(env.step)


def test_rware_time_limit_truncates_where_jumanji_terminates(rware_tiny):
    env, state, step = rware_tiny
    params = env.default_params().replace(max_steps=jnp.int32(4))
    noop = jnp.zeros((2,), jnp.int32)
    for t in (1, 2, 3, 4):
        state, ts = step(jax.random.PRNGKey(t), state, noop, params)
        assert not bool(ts.terminated) and not bool(ts.info["collision"])
        assert bool(ts.truncated) == (t == 4)
    # (jumanji's own RWARE ends there with discount 0, a "termination": checked in test_equal_to_jumanji_...)


def test_rware_collision_terminates(rware_tiny):
    env, state, step = rware_tiny
    # Robot 0 at (0, 0) facing right (direction 1), robot 1 at (0, 1): robot 0 drives into robot 1. Row 0 is a
    # highway (no shelves); jumanji's grid channel 1 holds robot ids + 1.
    grid = state.grid.at[1].set(0).at[1, 0, 0].set(1).at[1, 0, 1].set(2)
    agents = state.agents._replace(position=Position(x=jnp.array([0, 0], jnp.int32), y=jnp.array([0, 1], jnp.int32)),
                                   direction=jnp.array([1, 3], jnp.int32))
    state = state.replace(grid=grid, agents=agents)
    _, ts = step(jax.random.PRNGKey(1), state, jnp.array([1, 0], jnp.int32), env.default_params())
    assert bool(ts.terminated) and not bool(ts.truncated) and bool(ts.info["collision"])
    # a turn instead of the forward move: nothing ends
    _, ts = step(jax.random.PRNGKey(1), state, jnp.array([2, 0], jnp.int32), env.default_params())
    assert not bool(ts.done)


# ---- bad input ---------------------------------------------------------------------------------------------


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match=r"unknown env 'lbf_9x9-2p-2f'.*Did you mean"):
        envs.make("lbf_9x9-2p-2f")
    with pytest.raises(ValueError, match=r"unknown lbf scenario '9x9'; known: 2s-8x8-2p-2f-coop, 8x8-2p-2f-coop"):
        envs.make("lbf", scenario="9x9")
    with pytest.raises(ValueError, match=r"unknown rware scenario 'huge'; known: tiny-2ag"):
        envs.make("rware", scenario="huge")
    with pytest.raises(ValueError, match=r"env 'lbf': jumanji rejects .*grid_size.*Grid size must be greater than 5"):
        envs.make("lbf", grid_size=4)
    with pytest.raises(ValueError, match=r"shelf_columns must be a positive odd number, got 2"):
        envs.make("rware", shelf_columns=2)
    with pytest.raises(ValueError, match=r"max_steps must be >= 1, got 0"):
        envs.make("lbf_8x8-2p-2f-coop", max_steps=0)
    with pytest.raises(ValueError, match=r"global_state='world'"):
        envs.make("rware_tiny-2ag", global_state="world")
    with pytest.raises(ValueError, match=r"does not accept these arguments"):
        envs.make("lbf_8x8-2p-2f-coop", sight=2)
    for task in ("lbf_8x8-2p-2f-coop", "rware_tiny-2ag"):
        env = envs.make(task)
        params = env.default_params()
        state, _ = jax.eval_shape(env.reset, jax.random.PRNGKey(0), params)
        n = env.num_agents
        for shape in ((n + 1,), (n, 1), ()):
            with pytest.raises(ValueError, match=rf"action has shape {re_shape(shape)}, expected \({n},\)"):
                jax.eval_shape(env.step, jax.random.PRNGKey(0), state, jnp.zeros(shape, jnp.int32), params)


def re_shape(shape: tuple) -> str:
    return str(shape).replace("(", r"\(").replace(")", r"\)")


# ---- spec, layout, options (traced only) ------------------------------------------------------------------


def test_specs_and_layouts():
    for name, cfg in LBF_SCENARIOS.items():
        n, f = cfg["num_agents"], cfg["num_food"]
        spec = envs.make(f"lbf_{name}").spec()
        want = (n, 3 * (n + f), 4 * n + 4 * f + 1, 6)
        assert (spec.num_agents, spec.obs_dim, spec.state_dim, spec.action_dim) == want
    for name, cfg in RWARE_SCENARIOS.items():
        n = cfg["num_agents"]
        h, w = (cfg["column_height"] + 1) * cfg["shelf_rows"] + 2, 3 * cfg["shelf_columns"] + 1
        spec = envs.make(f"rware_{name}").spec()
        assert (spec.num_agents, spec.obs_dim, spec.state_dim, spec.action_dim) == (n, 66, 3 * h * w + 7 * n + 1, 5)
    grid = envs.make("lbf_2s-8x8-2p-2f-coop", grid_observation=True).spec()
    assert grid.obs_dim == 3 * 5 * 5
    concat = envs.make("rware_tiny-2ag", global_state="concat_obs").spec()
    assert concat.state_dim == 2 * 66
    assert isinstance(envs.make("lbf"), JumanjiLBF) and isinstance(envs.make("rware"), JumanjiRware)
    # the plain tasks are jumanji's registered defaults: LevelBasedForaging-v0 and RobotWarehouse-v0
    assert envs.make("lbf").spec() == envs.make("lbf_8x8-2p-2f-coop").spec()
    default = jumanji.make("RobotWarehouse-v0")
    assert envs.make("rware").inner.request_queue_size == default.request_queue_size == 8


def test_global_state_layout(lbf_5x5):
    env, state, step = lbf_5x5
    _, ts = step(jax.random.PRNGKey(0), state, jnp.zeros((2,), jnp.int32), env.default_params())  # no-ops
    # agents (row, col, level, loading) x 2, food (row, col, level, eaten), t / max_steps (1 / 10)
    np.testing.assert_allclose(ts.state, [2, 1, 1, 0, 1, 2, 1, 0, 2, 2, 2, 0, 0.1])


# ---- the other direction ---------------------------------------------------------------------------------


def test_our_env_as_a_jumanji_environment():
    ours = envs.make("bridge", max_steps=2)
    env = as_jumanji(ours)
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    state, ts = reset(jax.random.PRNGKey(0))
    env.observation_spec.validate(ts.observation)
    assert ts.first() and ts.reward.shape == (2,) and ts.discount.shape == (2,)
    action = env.action_spec.generate_value()
    assert action.shape == (2,) and env.action_spec.num_values.tolist() == [ours.spec().action_dim] * 2
    # the same as our reset with the key AsJumanji splits off
    _, k_env = jax.random.split(jax.random.PRNGKey(0))
    _, our_ts = ours.reset(k_env, ours.default_params())
    np.testing.assert_array_equal(ts.observation.agents_view, our_ts.obs)
    np.testing.assert_array_equal(ts.observation.global_state, our_ts.state)
    assert set(ts.extras) == set(our_ts.info)
    state, ts = step(state, action)
    env.observation_spec.validate(ts.observation)
    assert ts.mid() and int(ts.observation.step_count) == 1
    state, ts = step(state, action)
    assert ts.last() and (np.asarray(ts.discount) == 1.0).all()  # bridge's time limit: a truncation, discount 1
    # a termination (the one-shot climbing game ends in the task): discount 0
    game = as_jumanji(envs.make("climbing"))
    state, ts = jax.jit(game.step)(*jax.jit(game.reset)(jax.random.PRNGKey(0))[:1], jnp.zeros((2,), jnp.int32))
    assert ts.last() and (np.asarray(ts.discount) == 0.0).all()


# ---- learning ----------------------------------------------------------------------------------------------

# MAPPO against the uniformly random policy (valid actions) on a small LBF: 5x5, 2 agents, 1 food item a single
# agent may be able to eat, 25-step episodes. Compiling the trainer costs 35-45 s on the 2-core CPU, over this
# file's budget: slow. The fast suite has the scripted forager of test_equal_to_jumanji_step_by_step.
LEARN_LBF = dict(grid_size=5, num_agents=2, num_food=1, force_coop=False, max_steps=25)


@pytest.mark.slow
def test_mappo_beats_random_on_small_lbf():
    from agentmixer_jax.config import HParams, TrainConfig
    from agentmixer_jax.trainer import Seeds, Trainer
    from experiments.random_baseline import random_policy_stats

    random_return = random_policy_stats("lbf", num_envs=256, steps=250, **LEARN_LBF)["return"]
    cfg = TrainConfig(algo="mappo", num_envs=16, num_steps=25, total_env_steps=40_000, update_epochs=4,
                      num_minibatches=2, hidden_sizes=(32, 32), critic_hidden_sizes=(32, 32), eval_episodes=16)
    seeds = Seeds(Trainer(envs.make("lbf", **LEARN_LBF), cfg), 32)
    state, _, finite = seeds.run(seeds.init(seeds.keys(0), HParams()), cfg.num_updates)
    assert np.all(np.asarray(finite))
    ret = np.asarray(seeds.evaluate(state)["return"])  # (seeds,) mean greedy return over 16 episodes each
    low = ret.mean() - 1.96 * ret.std(ddof=1) / np.sqrt(len(ret))
    assert low > random_return + 0.1, (ret.mean(), low, random_return)

