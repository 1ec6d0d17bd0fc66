"""MASAC: individual stochastic policies trained by SAC against centralised twin Q critics on the global state and
the joint action (the paper-era off-policy baseline; the learner is `learners/sac.py`).

Continuous actions: each agent's policy is a tanh-squashed Gaussian whose log std is a linear head on the actor's
last feature, clipped to [-20, 2] (Haarnoja et al. 2018, and HARL's squashed Gaussian policy, PKU-MARL/HARL
harl/models/policy_models/squashed_gaussian_policy.py @ a6309b8). Discrete actions: each agent's categorical,
reparameterised for the critics by a straight-through Gumbel-softmax one-hot (as HARL's off-policy discrete
actors). One entropy temperature per agent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agentmixer_jax.config import HParams
from agentmixer_jax.networks import ActorOutput, dense
from agentmixer_jax.policies.base import ActorCritic, PolicyStep

Array = jax.Array
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


class MASAC(ActorCritic):
    name = "masac"
    centralised_critic = True

    def __init__(self, spec, config):
        super().__init__(spec, config)
        self.std_head = None if spec.discrete else dense(spec.action_dim, gain=0.01, init=config.weight_init)

    def init(self, key: Array) -> dict:
        """Actors (+ the log-std head, continuous) and input statistics; the Q critics belong to the learner."""
        k_actor, k_std = jax.random.split(key)
        params = {k: v for k, v in super().init(k_actor).items() if k not in ("critic", "log_std")}
        if self.std_head is not None:
            obs, _, mask = self.dummy_inputs()
            _, out = self.actor_step(params, self.initial_hidden(), obs, mask, jnp.bool_(True))
            params["std_head"] = self.std_head.init(k_std, out.feature)["params"]
        return params

    @staticmethod
    def param_group(top_level_key: str) -> str:
        return {"std_head": "actor"}.get(top_level_key, ActorCritic.param_group(top_level_key))

    def sac_log_std(self, params, out: ActorOutput) -> Array:
        log_std = self.std_head.apply({"params": params["std_head"]}, out.feature)
        return jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)

    def act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams) -> PolicyStep:
        sample = self.sac_sample(params, out, state, mask, key, hp)
        return PolicyStep(sample.action, sample.log_prob, (), {})

    def individual_act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams
                       ) -> PolicyStep:
        return self.act(params, out, state, mask, key, hp)
