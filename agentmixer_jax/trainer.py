"""The Trainer: `init(key, hp) -> state`, `run(state, n) -> (state, metrics)`, `evaluate(state) -> eval`.

Each is pure and jittable on ONE seed; vmap them over seeds (and hyperparameters), as `Seeds` does, sharded
over the local devices on the seed axis:

    trainer = Trainer(envs.make("climbing"), TrainConfig(algo="agentmixer", num_envs=64, num_steps=1))
    seeds = Seeds(trainer, num_seeds=1024)              # vmapped, jitted, sharded programs over 1024 seeds
    state = seeds.init(seeds.keys(seed=0), HParams())   # seed i's key is fold_in(PRNGKey(0), i)
    state, metrics, finite = seeds.run(state, 50)       # 50 updates; metrics (1024, 50) each; finite (1024,)
    seeds.evaluate(state)                               # decentralised greedy evaluation, (1024,) per statistic

`make_train(env, config)` returns `train(key, hp)`, the whole run as one pure function (init, run all updates,
evaluate), as the one-closure runner it replaces did. The state (`TrainState`) holds everything needed to
continue, so a run checkpointed between chunks and resumed ends bitwise identical to an uninterrupted one.
"""

from __future__ import annotations

import concurrent.futures
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import agentmixer_jax
from agentmixer_jax import registry
from agentmixer_jax.acting import Acting, wrap
from agentmixer_jax.config import HParams, TrainConfig
from envs.core import MultiAgentEnv

Array = jax.Array


@struct.dataclass
class TrainState:
    """One seed's run, complete: what `run` continues from and what a checkpoint holds."""

    learner: Any  # the learner's state (PPOState: params, optimiser, environments, key)
    hp: HParams  # float32 leaves: the traced hyperparameters of this seed
    update: Array  # () int32: updates done
    eval_key: Array  # (2,) uint32: the key of every greedy evaluation of this seed (common random numbers)


@struct.dataclass
class TrainResult:
    params: Any  # final parameters
    metrics: dict  # per-update scalars, (num_updates,) each
    eval: dict  # evaluation with decentralised mode actions: mean over eval episodes, scalars


def eval_key(key: Array) -> Array:
    """The evaluation key of a run started from `key` (what `Trainer.init` stores in `TrainState.eval_key`)."""
    return jax.random.split(key, 4)[3]


def all_finite(tree) -> Array:
    """() bool: every float leaf of `tree` is finite."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


class Trainer:
    """One algorithm on one task, for one seed. `config.algo` picks the policy and learner (agentmixer_jax.registry)."""

    def __init__(self, env: MultiAgentEnv, config: TrainConfig, env_params=None):
        config.validate()
        self.config = config
        self.algorithm = registry.get(config.algo)
        self.env = wrap(env)
        self.env_params = self.env.default_params() if env_params is None else env_params
        self.spec = self.env.spec(self.env_params)
        config.validate_for(self.spec, env_name=self.env.name)
        self.policy = self.algorithm.policy(self.spec, config)
        self.acting = Acting(self.env, self.policy, self.env_params, squash=self.algorithm.learner.squashes_actions)
        self.learner = self.algorithm.learner(self.policy, self.acting, config)

    def init(self, key: Array, hp: HParams) -> TrainState:
        hp = hp.as_floats()
        k_params, k_env, k_run, _ = jax.random.split(key, 4)
        return TrainState(learner=self.learner.init(k_params, k_env, k_run, hp), hp=hp, update=jnp.int32(0),
                          eval_key=eval_key(key))

    def run(self, state: TrainState, num_updates: int) -> tuple[TrainState, dict]:
        """`num_updates` (a Python int) updates; per-update scalar metrics, (num_updates,) each."""

        def one(state: TrainState, _):
            learner, metrics = self.learner.update(state.learner, self.policy.schedule_hparams(state.hp, state.update))
            return state.replace(learner=learner, update=state.update + 1), metrics

        return jax.lax.scan(one, state, None, length=num_updates)

    def evaluate(self, state: TrainState) -> dict:
        return self.evaluate_params(state.learner.params, state.eval_key)

    def evaluate_params(self, params, key: Array) -> dict:
        """Every greedy policy of the algorithm on the same eval starts; keys prefixed as the policy names them.

        The unprefixed entries are the decentralised individual modes (IGC); AIL adds its expert's (`expert_`)."""
        result = {}
        for prefix, mode in self.policy.eval_policies().items():
            stats = self.acting.evaluate(params, key, self.config.eval_episodes, mode)
            result.update({prefix + k: v for k, v in stats.items()})
        return result

    def finite(self, state: TrainState, metrics: dict) -> Array:
        """() bool: the seed's parameters and this chunk's losses are finite (False: the seed diverged)."""
        return jnp.logical_and(all_finite(state.learner.params), all_finite(metrics))

    def train(self, key: Array, hp: HParams) -> TrainResult:
        """The whole run as one pure function: init, every update of `config.num_updates`, evaluate."""
        state, metrics = self.run(self.init(key, hp), self.config.num_updates)
        return TrainResult(params=state.learner.params, metrics=metrics, eval=self.evaluate(state))


def make_train(env: MultiAgentEnv, config: TrainConfig, env_params=None) -> Callable[[Array, HParams], TrainResult]:
    """`train(key, hp) -> TrainResult`, vmappable over keys and HParams leaves, with `.trainer` and the shortcuts
    `.evaluate(params, key)`, `.config`, `.spec`, `.algo` (the policy)."""
    trainer = Trainer(env, config, env_params)

    def train(key: Array, hparams: HParams) -> TrainResult:
        return trainer.train(key, hparams)

    train.trainer = trainer  # type: ignore[attr-defined]
    train.evaluate = trainer.evaluate_params  # type: ignore[attr-defined]
    train.config = config  # type: ignore[attr-defined]
    train.spec = trainer.spec  # type: ignore[attr-defined]
    train.algo = trainer.policy  # type: ignore[attr-defined]
    return train


def seed_keys(seed: int, num_seeds: int) -> Array:
    """(num_seeds, 2): seed i's key is fold_in(PRNGKey(seed), i), whatever the number of seeds."""
    base = jax.random.PRNGKey(seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(num_seeds))


def seed_devices(num_seeds: int, devices: Sequence | None = None) -> list:
    """The local devices the seeds are sharded over: as many as divide `num_seeds` evenly."""
    devices = list(jax.local_devices() if devices is None else devices)
    count = max(d for d in range(1, len(devices) + 1) if num_seeds % d == 0)
    return devices[:count]


class Seeds:
    """A trainer's programs over `num_seeds` seeds: vmapped, jitted, spread over devices on the seed axis.

    Every leaf of the state, the metrics and the evaluation has the seed axis in front, as one global array sharded
    over D devices (D = the most local devices that divide num_seeds), num_seeds / D seeds each. Each device runs
    the same single-device program on its own seeds (dispatched asynchronously, so the devices work at once; the
    seeds never communicate). Deliberately not one SPMD program: XLA's multi-device pipeline optimises the program
    differently and a seed's floats would then depend on the device count; this way seed i's result is bitwise
    the same whether the seeds share one device or spread over several of the same kind (with four or more seeds
    per device; agentmixer_jax/__init__.py). The same code runs on one CPU, eight GPUs or a TPU slice.
    `compile` builds the programs ahead of time (e.g. under a progress spinner); otherwise each compiles on first
    use. One program per chunk length and device."""

    def __init__(self, trainer: Trainer, num_seeds: int, devices: Sequence | None = None):
        if num_seeds < 1:
            raise ValueError(f"num_seeds={num_seeds} must be >= 1")
        self.trainer = trainer
        self.num_seeds = num_seeds
        self.devices = seed_devices(num_seeds, devices)
        if self.devices[0].platform == "cpu" and not agentmixer_jax.CPU_FLAGS_ACTIVE:
            warnings.warn("JAX's CPU backend started before agentmixer_jax was imported, so its XLA flag is not in "
                          "force: a seed's result may depend on how many seeds run beside it. Import agentmixer_jax "
                          "before creating any JAX array.", stacklevel=2)
        self.mesh = Mesh(np.array(self.devices), ("seed",))
        self.sharded = NamedSharding(self.mesh, PartitionSpec("seed"))
        # Not donated on CPU: jaxlib 0.10 can, but a 4-update chunk of AgentMixer on ant_4x2 ran no faster with
        # it (3.48 s against 3.46 s per update, 2026-12-04), and donating deletes the state the caller passed in.
        donate = () if self.devices[0].platform == "cpu" else (0,)

        def chunk(state: TrainState, num_updates: int):
            state, metrics = trainer.run(state, num_updates)
            return state, metrics, trainer.finite(state, metrics)

        self._jitted = {
            "init": jax.jit(jax.vmap(trainer.init, in_axes=(0, None))),
            "init_each": jax.jit(jax.vmap(trainer.init, in_axes=(0, 0))),  # one setting per seed (a scan)
            "evaluate": jax.jit(jax.vmap(trainer.evaluate)),
            "run": jax.jit(jax.vmap(chunk, in_axes=(0, None)), static_argnums=1, donate_argnums=donate),
        }
        self._compiled: dict[tuple, Any] = {}

    # ----- spreading seeds over devices ---------------------------------------------------------------
    def _split(self, tree) -> list:
        """A global seed-sharded pytree -> one pytree of single-device arrays per device (its seeds)."""
        def shard_on(x, device):
            return next(s.data for s in x.addressable_shards if s.device == device)

        tree = jax.device_put(tree, self.sharded)  # a no-op for state made here
        return [jax.tree.map(lambda x, d=d: shard_on(x, d), tree) for d in self.devices]

    def _join(self, parts: list):
        """One pytree per device -> the global seed-sharded pytree."""
        def join(*xs):
            shape = (self.num_seeds, *xs[0].shape[1:])
            return jax.make_array_from_single_device_arrays(shape, self.sharded, list(xs))

        return jax.tree.map(join, *parts)

    def _per_device(self, name: str, trees: list, *static):
        outs = []
        for i, (device, tree) in enumerate(zip(self.devices, trees)):
            compiled = self._compiled.get((name, *static, i))
            if compiled is not None:
                outs.append(compiled(*tree))
            else:
                with jax.default_device(device):
                    outs.append(self._jitted[name](*tree, *static))
        return self._join(outs)

    # ----- the programs -----------------------------------------------------------------------------------
    def keys(self, seed: int = 0) -> Array:
        """(S, 2) seed keys, fold_in(PRNGKey(seed), i), placed on the devices."""
        return jax.device_put(seed_keys(seed, self.num_seeds), self.sharded)

    def init(self, keys: Array, hp: HParams) -> TrainState:
        """The seeds' initial states. `hp`: one setting for every seed (scalar leaves), or one per seed (every
        leaf `(S,)`, as `agentmixer_jax.scan` gives: seeds x settings in one program)."""
        hp = hp.as_floats()
        if self._per_seed_hp(hp):
            return self._per_device("init_each", list(zip(self._split(keys), self._split(hp))))
        parts = [(k, jax.device_put(hp, d)) for k, d in zip(self._split(keys), self.devices)]
        return self._per_device("init", parts)

    def _per_seed_hp(self, hp: HParams) -> bool:
        shapes = {tuple(x.shape) for x in jax.tree.leaves(hp)}
        if shapes == {()}:
            return False
        if shapes == {(self.num_seeds,)}:
            return True
        raise ValueError(f"HParams leaves must all be scalars (one setting) or all of shape ({self.num_seeds},) "
                         f"(one setting per seed); got shapes {sorted(shapes)}")

    def run(self, state: TrainState, num_updates: int) -> tuple[TrainState, dict, Array]:
        """`num_updates` updates of every seed: (state, metrics (S, num_updates) each, finite (S,) bool)."""
        return self._per_device("run", [(s,) for s in self._split(state)], num_updates)

    def evaluate(self, state: TrainState) -> dict:
        """Decentralised greedy evaluation of every seed: {statistic: (S,)}."""
        return self._per_device("evaluate", [(s,) for s in self._split(state)])

    def state_shape(self, hp: HParams) -> TrainState:
        """The abstract state (shapes, dtypes, shardings): what `init` returns, and a checkpoint's restore target."""
        hp = hp.as_floats()
        init = "init_each" if self._per_seed_hp(hp) else "init"
        abstract = jax.eval_shape(self._jitted[init], seed_keys(0, self.num_seeds), hp)
        return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=self.sharded), abstract)

    def compile(self, hp: HParams, chunks: Sequence[int] = ()) -> None:
        """Compile init, evaluate and the chunk programs of the given lengths ahead of time, for every device."""
        hp = hp.as_floats()
        per = self.num_seeds // len(self.devices)
        init = "init_each" if self._per_seed_hp(hp) else "init"
        if init == "init_each":
            hp = jax.tree.map(lambda x: x[:per], hp)
        state = jax.eval_shape(self._jitted[init], seed_keys(0, per), hp)
        lowered = {}
        for i, device in enumerate(self.devices):
            on = jax.sharding.SingleDeviceSharding(device)
            place = lambda tree, on=on: jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=on),
                                                     tree)
            keys = jax.ShapeDtypeStruct((per, 2), jnp.uint32, sharding=on)
            lowered[(init, i)] = self._jitted[init].lower(keys, place(hp))
            lowered[("evaluate", i)] = self._jitted["evaluate"].lower(place(state))
            for n in dict.fromkeys(chunks):
                lowered[("run", n, i)] = self._jitted["run"].lower(place(state), n)
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(self.devices)) as pool:  # XLA drops the GIL
            self._compiled.update(zip(lowered, pool.map(lambda low: low.compile(), lowered.values())))
