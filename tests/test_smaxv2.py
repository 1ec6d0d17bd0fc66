"""Tests of the SMACv2 stand-in (envs/smaxv2): hand-built battles for the mechanics, statistics of the
scenario generator, and a difficulty sanity check (the API contract of every scenario, with determinism and
retracing: tests/test_env_contract.py)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
import envs.smaxv2 as sm
from envs.smaxv2.observations import (
    EAST,
    NOOP,
    NORTH,
    NUM_NON_TARGET_ACTIONS,
    SOUTH,
    STOP,
    WEST,
    action_mask,
    get_obs,
)
from envs.smaxv2.scenarios import Scenario, sample_types
from envs.smaxv2.simulation import IDLE, MOVE, TARGET, Commands, init_units, simulate, team_ids
from envs.smaxv2.units import (
    BANELING,
    COLOSSUS,
    HYDRALISK,
    MARAUDER,
    MARINE,
    MEDIVAC,
    RACES,
    STALKER,
    ZEALOT,
    ZERGLING,
)

K = NUM_NON_TARGET_ACTIONS
FAR = (30.0, 30.0)


@pytest.fixture(scope="module")
def params():
    return sm.default_params()


@functools.cache
def _sim(n_allies: int, n_enemies: int, n_substeps: int):
    team = team_ids(n_allies, n_enemies)
    return jax.jit(lambda u, c, p: simulate(u, c, team, p, n_substeps))


def make_units(types, pos, params, **fields):
    units = init_units(jnp.asarray(types, jnp.int32), jnp.asarray(pos, jnp.float32), params)
    return units.replace(**{k: jnp.asarray(v, getattr(units, k).dtype) for k, v in fields.items()})


def orders(n, targets=None, moves=None):
    """Commands for n units: `targets` {unit: target}, `moves` {unit: (dx, dy)}; others idle."""
    kind = np.full(n, IDLE, np.int32)
    target = np.zeros(n, np.int32)
    direction = np.zeros((n, 2), np.float32)
    for i, t in (targets or {}).items():
        kind[i], target[i] = TARGET, t
    for i, d in (moves or {}).items():
        kind[i], direction[i] = MOVE, d
    return Commands(kind=jnp.asarray(kind), direction=jnp.asarray(direction), target=jnp.asarray(target))


def one_shot(units, cmd, params, n_allies=2, n_enemies=3):
    """One sub-step of 0.05 s: every ready weapon in reach fires exactly once."""
    return _sim(n_allies, n_enemies, 1)(units, cmd, params.replace(step_seconds=jnp.float32(0.05)))


# --- damage, armour, shields ---------------------------------------------------------------------


def test_armour_and_bonus_damage(params):
    # allies: marauder, zealot; enemies: marauder, zergling, marine (all in reach, unshielded)
    types = [MARAUDER, ZEALOT, MARAUDER, ZERGLING, MARINE]
    pos = [(10, 10), (20, 10), (14, 10), (20.9, 10), (25, 25)]
    u = make_units(types, pos, params)
    out = one_shot(u, orders(5, {0: 2, 1: 3}), params)
    # marauder vs armoured marauder: 10 + 10 bonus - 1 armour = 19
    assert float(out.hp[2]) == pytest.approx(125 - 19)
    # zealot vs zergling: 2 hits of 8, no armour = 16
    assert float(out.hp[3]) == pytest.approx(35 - 16 + 0.38 * 0.05, abs=1e-3)
    # zealot vs marauder: 2 hits of (8 - 1) = 14; marine vs marauder: 6 - 1 = 5
    u2 = make_units(
        [ZEALOT, MARINE, MARAUDER, MARAUDER, MARINE], [(10, 10), (9, 14), (11, 10), FAR, (2, 2)], params
    )
    out2 = one_shot(u2, orders(5, {0: 2, 1: 2}), params)
    assert float(out2.hp[2]) == pytest.approx(125 - 14 - 5)
    # marauder vs light marine: no bonus, 10 - 0 = 10
    u3 = make_units(
        [MARAUDER, MARINE, MARINE, MARINE, MARINE], [(10, 10), FAR, (15, 10), (2, 2), (2, 28)], params
    )
    assert float(one_shot(u3, orders(5, {0: 2}), params).hp[2]) == pytest.approx(45 - 10)


def test_shields_absorb_first_then_regenerate(params):
    types = [STALKER, MARAUDER, ZEALOT, STALKER, MARINE]
    pos = [(10, 10), (10, 20), (15, 10), (15, 20), (2, 2)]
    u = make_units(types, pos, params)
    out = one_shot(u, orders(5, {0: 2, 1: 3}), params)
    # stalker vs light zealot: 13 to the shields, hit points untouched
    assert float(out.shield[2]) == pytest.approx(50 - 13)
    assert float(out.hp[2]) == pytest.approx(100)
    # marauder vs armoured stalker: the bonus applies to shields too (20), no armour on shields
    assert float(out.shield[3]) == pytest.approx(80 - 20)
    assert float(out.hp[3]) == pytest.approx(80)
    # overflow loses the unit's armour: 5 shield left, 13 damage -> 8 overflow - 1 armour = 7 hp
    low = make_units(types, pos, params, shield=[80, 0, 5, 80, 0])
    out_low = one_shot(low, orders(5, {0: 2}), params)
    assert float(out_low.shield[2]) == pytest.approx(0)
    assert float(out_low.hp[2]) == pytest.approx(100 - 7)
    # regeneration: nothing for 7 s without damage, then 2.8 shields per second
    sim1 = _sim(2, 3, 1)
    slow = params.replace(step_seconds=jnp.float32(1.0))
    u = out
    for _ in range(7):
        u = sim1(u, orders(5), slow)
    assert float(u.shield[2]) == pytest.approx(37)
    for _ in range(3):
        u = sim1(u, orders(5), slow)
    assert 37 < float(u.shield[2]) <= 37 + 3 * 2.8 + 1e-4
    # the full shield is the cap
    for _ in range(30):
        u = sim1(u, orders(5), slow)
    assert float(u.shield[2]) == pytest.approx(50)
    assert float(u.hp[2]) == pytest.approx(100)


def test_colossus_line_splash_hits_enemies_on_the_line_only(params):
    # colossus at (4, 10) shoots +x at a zergling at (10, 10): the splash line runs along y
    types = [COLOSSUS, ZEALOT, ZERGLING, ZERGLING, ZERGLING]
    pos = [(4, 10), (10, 9.0), (10, 10), (10, 11.0), (12, 10)]
    u = make_units(types, pos, params)
    out = one_shot(u, orders(5, {0: 2}), params)
    dmg = (10 + 5) * 2  # +5 per hit against light, two hits, zergling armour 0
    regen = 0.38 * 0.05
    assert float(out.hp[2]) == pytest.approx(35 - dmg + regen, abs=1e-3)  # the target
    assert float(out.hp[3]) == pytest.approx(35 - dmg + regen, abs=1e-3)  # on the line
    assert float(out.hp[4]) == pytest.approx(35)  # behind the target, off the line
    assert float(out.hp[1]) == pytest.approx(100) and float(out.shield[1]) == pytest.approx(
        50
    )  # no friendly fire


def test_baneling_explosion_hits_enemies_around_it_and_kills_it(params):
    # enemy baneling (index 2) at (10, 10) detonates on our marine at (10.8, 10)
    types = [MARINE, MARAUDER, BANELING, ZERGLING, MARINE]
    pos = [(10.8, 10), (8.5, 10), (10, 10), (10, 11.0), (10, 14)]
    u = make_units(types, pos, params)
    out = one_shot(u, orders(5, {2: 0}), params)
    assert not bool(out.alive[2]) and float(out.hp[2]) == 0.0  # the baneling is spent
    assert float(out.hp[0]) == pytest.approx(45 - 35)  # 16 + 19 against light
    assert float(out.hp[1]) == pytest.approx(125 - 15)  # 16 - 1 armour, within 2.2
    assert float(out.hp[3]) == pytest.approx(35)  # its own team is unharmed
    far = make_units(types, [(10.8, 10), (5, 10), (10, 10), (10, 11), (10, 14)], params)
    assert float(one_shot(far, orders(5, {2: 0}), params).hp[1]) == pytest.approx(125)  # out of the blast


def test_medivac_heals_and_cannot_attack(params):
    # allies: medivac, damaged marine; enemies: marine, two far marines
    types = [MEDIVAC, MARINE, MARINE, MARINE, MARINE]
    pos = [(10, 10), (12, 10), (13, 10), FAR, (2, 2)]
    u = make_units(types, pos, params, hp=[150, 20, 45, 45, 45])
    sim = _sim(2, 3, 4)
    healed = sim(u, orders(5, {0: 1}), params)
    gain = float(healed.hp[1] - 20)
    assert gain == pytest.approx(12.6 * float(params.step_seconds), rel=1e-3)
    used = float(u.energy[0] - healed.energy[0])
    assert used == pytest.approx(gain / 3 - 0.7875 * float(params.step_seconds), abs=1e-3)
    # ordered onto an enemy it does nothing; it never heals past the maximum
    attacked = sim(u, orders(5, {0: 2}), params)
    assert float(attacked.hp[2]) == pytest.approx(45)
    full = sim(u.replace(hp=u.hp.at[1].set(44.0)), orders(5, {0: 1}), params)
    assert float(full.hp[1]) == pytest.approx(45)
    # masks: heal actions index allies, attack actions are never available to a medivac
    terran = Scenario("terran", 2, 3)
    m = np.asarray(jax.jit(lambda u: action_mask(u, terran, params))(u))
    assert m[0, K + 1] and not m[0, K + 0]  # heal the marine, not itself
    assert not m[0, K + 2]  # column K+2 is a third ally for a medivac: none exists
    assert m[1, K + 0]  # the marine may shoot enemy 0 (in range)


# --- masks and observations -------------------------------------------------------------------


def test_masks_match_ranges_and_sight(params):
    scen = Scenario("terran", 2, 3)
    mask_fn = jax.jit(lambda u: action_mask(u, scen, params))
    obs_fn = jax.jit(lambda u: get_obs(u, scen, params))
    # marine (range 5) at (10, 10), marauder (range 6, ground only) at (1, 20)
    # enemies: marine at distance 4.9, medivac (air) at distance 4.0 of the marine, marine at 5.1
    types = [MARINE, MARAUDER, MARINE, MEDIVAC, MARINE]
    pos = [(10, 10), (1, 20), (14.9, 10), (10, 14), (10, 4.9)]
    u = make_units(types, pos, params)
    m = np.asarray(mask_fn(u))
    assert m[0, STOP] and not m[0, NOOP]
    assert m[0, K + 0] and m[0, K + 1] and not m[0, K + 2]
    # the marauder is near the west edge (1 - 2 < 0) and cannot hit the medivac even in range
    assert not m[1, WEST] and m[1, EAST] and m[1, NORTH] and m[1, SOUTH]
    u_close = u.replace(pos=u.pos.at[1].set(jnp.array([10.0, 16.0])))
    assert not np.asarray(mask_fn(u_close))[1, K + 1]
    # melee units may attack within min_attack_range = 2 (centre to centre)
    zeal = make_units(
        [ZEALOT, STALKER, ZEALOT, ZEALOT, ZEALOT], [(10, 10), FAR, (11.9, 10), (10, 12.2), (2, 2)], params
    )
    mz = np.asarray(jax.jit(lambda u: action_mask(u, Scenario("protoss", 2, 3), params))(zeal))
    assert mz[0, K + 0] and not mz[0, K + 1]
    # sight: a marine (sight 9) sees an enemy at 8.9 but not at 9.1; obs layout for terran:
    # 4 move + 3 enemies x 8 + 1 ally x 8 + own 6
    seen = make_units(types, [(10, 10), (1, 20), (18.9, 10), FAR, (10, 19.1)], params)
    o = np.asarray(obs_fn(seen))
    assert o.shape == (2, 4 + 3 * 8 + 1 * 8 + 6)
    enemy = o[0, 4 : 4 + 24].reshape(3, 8)
    assert enemy[0, 1] == pytest.approx(8.9 / 9) and enemy[0, 2] == pytest.approx(8.9 / 9)
    assert enemy[0, 0] == 0.0  # visible but out of range: not attackable
    assert enemy[0, 4] == pytest.approx(1.0) and enemy[0, 5:].tolist() == [1, 0, 0]  # health, marine bit
    assert np.all(enemy[2] == 0)  # out of sight
    own = o[0, -6:]
    assert own.tolist() == pytest.approx([1.0, 10 / 32, 10 / 32, 1, 0, 0])


def test_dead_units_get_only_noop_and_zero_obs(params):
    scen = Scenario("terran", 2, 3)
    u = make_units(
        [MARINE, MARINE, MARINE, MARINE, MARINE], [(10, 10), (11, 10), (12, 10), FAR, (2, 2)], params
    )
    u = u.replace(alive=u.alive.at[0].set(False), hp=u.hp.at[0].set(0.0))
    m = np.asarray(jax.jit(lambda u: action_mask(u, scen, params))(u))
    assert m[0].tolist() == [True] + [False] * (m.shape[1] - 1)
    assert not m[1, NOOP] and m[1, STOP]
    o = np.asarray(jax.jit(lambda u: get_obs(u, scen, params))(u))
    assert np.all(o[0] == 0)
    ally_block = o[1, 4 + 3 * 8 : 4 + 4 * 8]
    assert np.all(ally_block == 0)  # a dead ally is not observed
    # a dead unit's chosen action is ignored by the environment (treated as no-op)
    env = sm.make_scenario("terran", 2, 3)
    state, ts = jax.jit(env.reset_to)(u, params)
    state2, _ = jax.jit(env.step)(jax.random.PRNGKey(0), state, jnp.array([K + 0, STOP], jnp.int32), params)
    assert int(state2.last_action[0]) == NOOP


def test_reward_kill_and_win_scaled_to_twenty(params):
    env = sm.make_scenario("terran", 1, 1)
    u = make_units([MARINE, MARINE], [(10, 10), (13, 10)], params, hp=[45, 1])
    state, ts = jax.jit(env.reset_to)(u, params)
    assert bool(ts.action_mask[0, K])
    state, ts = jax.jit(env.step)(jax.random.PRNGKey(0), state, jnp.array([K], jnp.int32), params)
    max_reward = 1 * 10 + 200 + 45
    assert bool(ts.terminated) and bool(ts.info["won"]) and not bool(ts.truncated)
    np.testing.assert_allclose(ts.reward, [(1 + 10 + 200) / (max_reward / 20)], rtol=1e-5)


# --- scenario generation --------------------------------------------------------------------------


def _expected_freq(n: int, exception: bool) -> np.ndarray:
    """Per-unit type frequencies of a team of n drawn i.i.d. (0.45, 0.45, 0.1) and redrawn while it
    consists only of exceptions (the third type for terran and zerg)."""
    w = np.array([0.45, 0.45, 0.10])
    if not exception:
        return w
    valid = 1.0 - 0.1**n
    return np.array([0.45 / valid, 0.45 / valid, (0.1 - 0.1**n) / valid])


@pytest.mark.parametrize("race", list(RACES))
def test_unit_type_frequencies_over_10k_resets(race, params):
    scen = Scenario(race, 5, 7)
    types = np.asarray(
        jax.jit(jax.vmap(lambda k: sample_types(k, scen, params)))(
            jax.random.split(jax.random.PRNGKey(1), 10_000)
        )
    )
    local = types - RACES[race][0]
    assert local.min() >= 0 and local.max() <= 2
    allies, copies, extra = local[:, :5], local[:, 5:10], local[:, 10:]
    np.testing.assert_array_equal(copies, allies)  # enemies mirror our composition
    exc = race != "protoss"
    for team, n in ((allies, 5), (extra, 2)):
        freq = np.bincount(team.ravel(), minlength=3) / team.size
        np.testing.assert_allclose(freq, _expected_freq(n, exc), atol=0.015)
    if exc:  # no team made only of medivacs / banelings
        assert not np.any(np.all(allies == 2, axis=1)) and not np.any(np.all(extra == 2, axis=1))
    # the extra enemies are not one fixed type (the SMAX bug this stand-in avoids)
    assert len(np.unique(extra)) == 3


def test_reflect_starts_are_mirror_images_and_surrounded_starts_surround(params):
    env = sm.make_scenario("zerg", 4, 6)
    keys = jax.random.split(jax.random.PRNGKey(3), 400)
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    state, _ = reset(keys, params.replace(p_reflect=jnp.float32(1.0)))
    pos = np.asarray(state.units.pos)
    assert bool(np.all(state.reflect))
    ally, enemy = pos[:, :4], pos[:, 4:]
    np.testing.assert_allclose(enemy[:, :4, 0], 32.0 - ally[:, :, 0], atol=1e-5)
    np.testing.assert_allclose(enemy[:, :4, 1], ally[:, :, 1], atol=1e-5)
    assert np.all(ally[..., 0] <= 15.0) and np.all(enemy[:, 4:, 0] >= 16.0)
    state, _ = reset(keys, params.replace(p_reflect=jnp.float32(0.0)))
    pos = np.asarray(state.units.pos)
    assert not bool(np.any(state.reflect))
    assert np.all(np.abs(pos[:, :4] - 16.0) <= 0.5 + 1e-5)  # allies at the centre (+ jitter)
    d = np.abs(pos[:, 4:] - 16.0)
    assert np.all(d >= 2.0 - 0.5 - 1e-5)  # enemies on the diagonals, never on top of us
    # both kinds with probability 1/2 by default
    state, _ = reset(jax.random.split(jax.random.PRNGKey(4), 400), params)  # same shapes: no recompile
    assert 0.4 < float(np.mean(state.reflect)) < 0.6


def test_params_are_vmappable(params):
    env = sm.make_scenario("protoss", 3, 3)
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), params, params.replace(p_reflect=jnp.float32(1.0)))
    state, ts = jax.jit(jax.vmap(env.reset, in_axes=(None, 0)))(jax.random.PRNGKey(0), stacked)
    assert ts.obs.shape == (2, 3, env.spec().obs_dim)
    assert bool(state.reflect[1])


# --- registry, widths (shapes, dtypes, determinism, retracing, time limit: tests/test_env_contract.py) ---


def test_registry_and_widths():
    names = [f"{r}_{s}" for r in RACES for s in ("5v5", "10v10", "20v20", "10v11", "20v23")]
    for name in names:
        assert name in envs.registered_tasks()
        env = envs.make(name)
        assert env.name == name
        spec = env.spec(env.default_params())
        sb = int(name.startswith("protoss"))
        A, E = env.num_agents, env.n_enemies
        assert spec.obs_dim == 4 + (E + A - 1) * (8 + sb) + 6 + sb
        assert spec.action_space.num_actions == 6 + E
    assert envs.make("protoss_5v5").spec().obs_dim == 92
    assert envs.make("protoss_5v5").spec().state_dim == 130
    assert envs.make("smaxv2", race="zerg", n_allies=2, n_enemies=3).name == "zerg_2v3"


def test_focus_fire_action_is_an_int32_joint_action(params):
    env = envs.make("protoss_5v5")
    state, _ = jax.eval_shape(env.reset, jax.random.PRNGKey(0), params)
    action = jax.eval_shape(env.focus_fire_action, state, params)
    assert action.shape == (5,) and action.dtype == jnp.int32


# --- difficulty --------------------------------------------------------------------------------


def _battles(env, params, n, key):
    """Run n episodes with the random policy and n with the focus-fire policy (one compile)."""

    def episode(key, scripted):
        k0, key = jax.random.split(key)
        state, ts = env.reset(k0, params)

        def body(carry, k):
            state, ts, done, won, ret, finite = carry
            ka, ks = jax.random.split(k)
            rand = jax.random.categorical(ka, jnp.where(ts.action_mask, 0.0, -jnp.inf)).astype(jnp.int32)
            action = jnp.where(scripted, env.focus_fire_action(state, params), rand)
            new_state, new_ts = env.step(ks, state, action, params)
            keep = lambda new, old: jax.tree.map(lambda x, y: jnp.where(done, y, x), new, old)
            ok = jnp.all(jnp.isfinite(new_ts.obs)) & jnp.all(jnp.isfinite(new_ts.state))
            ok = ok & jnp.all(jnp.isfinite(new_ts.reward)) & jnp.all(new_ts.reward >= 0)
            return (
                keep(new_state, state),
                keep(new_ts, ts),
                done | new_ts.done,
                won | (~done & new_ts.info["won"]),
                ret + jnp.where(done, 0.0, new_ts.reward[0]),
                finite & ok,
            ), None

        init = (state, ts, jnp.zeros((), bool), jnp.zeros((), bool), jnp.zeros(()), jnp.ones((), bool))
        (_, _, done, won, ret, finite), _ = jax.lax.scan(body, init, jax.random.split(key, 200))
        return done, won, ret, finite

    keys = jax.random.split(key, n)
    flags = jnp.concatenate([jnp.zeros(n, bool), jnp.ones(n, bool)])
    out = jax.jit(jax.vmap(episode))(jnp.concatenate([keys, keys]), flags)
    return jax.tree.map(lambda x: (np.asarray(x[:n]), np.asarray(x[n:])), out)


@pytest.mark.parametrize("race", list(RACES))
def test_random_team_almost_never_wins_focus_fire_wins_more(race, params):
    env = sm.make_scenario(race, 5, 5)
    (done_r, done_s), (won_r, won_s), (ret_r, ret_s), (fin_r, fin_s) = _battles(
        env, params, 32, jax.random.PRNGKey(11)
    )
    assert fin_r.all() and fin_s.all()  # finite everywhere
    assert done_r.all() and done_s.all()  # every episode ends within the 200-step limit
    # the maximum episode return is 20 (damage credit capped, even with shield regen and heals)
    assert np.all(ret_r <= 20 + 1e-3) and np.all(ret_s <= 20 + 1e-3)
    assert won_r.mean() <= 0.1
    assert won_s.mean() >= won_r.mean() + 0.2
    assert won_s.mean() <= 0.95  # and not trivially
    assert ret_s.mean() > ret_r.mean()


def test_hydralisk_can_shoot_air_zergling_cannot(params):
    # sanity of the air rule with zerg and the medivac: only anti-air weapons reach air units
    scen = Scenario("zerg", 2, 3)
    u = make_units(
        [HYDRALISK, ZERGLING, MEDIVAC, ZERGLING, ZERGLING],
        [(10, 10), (10, 11), (10.5, 12), FAR, (2, 2)],
        params,
    )
    m = np.asarray(jax.jit(lambda u: action_mask(u, scen, params))(u))
    assert m[0, K + 0] and not m[1, K + 0]
