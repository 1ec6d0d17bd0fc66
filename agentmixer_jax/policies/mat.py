"""MAT and MAT-Dec (Wen et al., NeurIPS 2022, "Multi-Agent Reinforcement Learning is a Sequence Modeling Problem").

MAT: an encoder reads every agent's observation (self-attention over agents) and gives each agent a value and a
representation; a decoder outputs agent i's action from the representations and the actions of agents 0..i-1
(`agentmixer_jax/transformer.py`). Acting decodes the agents one after another (N decoder passes; causal attention
makes row i of each pass depend on earlier agents only); training re-scores the stored joint action in one
teacher-forced pass, which gives the same per-agent log-probabilities. **MAT executes centrally**: greedy play
decodes agent i from the others' observations (through the encoder) and their greedy actions, so its evaluation
is not decentralised (the registry marks it `centralised_execution`).

MAT-Dec: the same encoder as the critic, with decentralised actors: one MLP per agent on its own observation
(the reference's `dec_actor=True, share_actor=False`); its greedy evaluation is decentralised.

As the reference trainer (PKU-MARL/Multi-Agent-Transformer mat/algorithms/mat/mat_trainer.py at 08a18c6): PPO with
per-agent ratios of the conditional policies pi(a_i | o, a_<i) and each agent's advantage from its encoder value,
one optimiser over encoder and decoder (the value loss trains the encoder too). One deviation: for continuous
actions the reference sums per-dimension clipped surrogates; here an agent's ratio is that of its whole action
(the sum of the per-dimension log-probabilities), as in every other algorithm of this trainer. Continuous
exploration: std = sigmoid(log_std) * 0.5 per action dimension, log_std initialised to 1 (the reference's
`Decoder.log_std` and transformer_act.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agentmixer_jax import distributions as D
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.networks import ActorOutput
from agentmixer_jax.policies.base import ActorCritic, PolicyStep
from agentmixer_jax.transformer import DecActor, Decoder, Encoder
from envs.core import EnvSpec

Array = jax.Array

LOG_STD_INIT = 1.0  # the reference's torch.ones(action_dim)
STD_SCALE = 0.5  # std = sigmoid(log_std) * 0.5


class MAT(ActorCritic):
    name = "mat"
    centralised_critic = True  # the encoder's value reads every agent's observation
    joint_ratio = False  # K = N: each agent's conditional ratio

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        super().__init__(spec, config)
        self.encoder = Encoder(embd=config.mat_embd, heads=config.mat_heads, blocks=config.mat_blocks)
        self.decoder = Decoder(action_dim=spec.action_dim, discrete=spec.discrete, embd=config.mat_embd,
                               heads=config.mat_heads, blocks=config.mat_blocks)

    # ----- parameters: {"encoder", "decoder" (MAT-Dec: "dec_actor"), "log_std" (continuous), "input_norm"} ---
    def init(self, key: Array) -> dict:
        k_enc, k_dec = jax.random.split(key)
        obs, _, _ = self.dummy_inputs()
        enc = self.encoder.init(k_enc, obs)["params"]
        _, rep = self.encoder.apply({"params": enc}, obs)
        params = {"encoder": enc, **self._init_actor(k_dec, obs, rep)}
        if not self.discrete:
            params["log_std"] = {"log_std": jnp.full((self.action_dim,), LOG_STD_INIT, jnp.float32)}
        return {**params, **self.input_norm_params()}

    def _init_actor(self, key: Array, obs: Array, rep: Array) -> dict:
        return {"decoder": self.decoder.init(key, self.tokens(jnp.zeros(self.spec.action_shape(),
                                                                        self._action_dtype())), rep)["params"]}

    @staticmethod
    def param_group(top_level_key: str) -> str:
        # one optimiser over the whole transformer (the reference's single Adam at lr)
        return "frozen" if top_level_key == "input_norm" else "actor"

    def _action_dtype(self):
        return jnp.int32 if self.discrete else jnp.float32

    def individual_log_std(self, params) -> Array:
        return jnp.log(jax.nn.sigmoid(params["log_std"]["log_std"]) * STD_SCALE)

    # ----- the encoder: values and representations ---------------------------------------------------
    def actor_step(self, params, h: Array, obs: Array, mask: Array, reset: Array) -> tuple[Array, ActorOutput]:
        """The encoder over the N agents' observations: ActorOutput(head: (N, A) zeros for MAT (its actions come
        from the decoder), feature: (N, embd) representations)."""
        _, rep = self.encoder.apply({"params": params["encoder"]}, obs)
        return h, ActorOutput(head=jnp.zeros((self.num_agents, self.action_dim), jnp.float32), feature=rep)

    def value(self, params, obs: Array, state: Array) -> Array:
        return self.encoder.apply({"params": params["encoder"]}, obs)[0]

    # ----- the decoder ----------------------------------------------------------------------------------
    def tokens(self, action: Array) -> Array:
        """The decoder's input for a joint action: row 0 a start token, row i agent i-1's action (one-hot over
        A + 1 slots, slot 0 the start, for discrete; the action itself, zeros at the start, for continuous)."""
        if self.discrete:
            prev = jax.nn.one_hot(action[:-1] + 1, self.action_dim + 1)
            start = jax.nn.one_hot(0, self.action_dim + 1)[None]
        else:
            prev = action[:-1]
            start = jnp.zeros((1, self.action_dim), jnp.float32)
        return jnp.concatenate([start, prev], axis=0)

    def decode(self, params, rep: Array, action: Array, mask: Array) -> Array:
        """(N, A) masked logits (or means) of every agent given the actions of the agents before it in `action`."""
        head = self.decoder.apply({"params": params["decoder"]}, self.tokens(action), rep)
        return jnp.where(mask, head, -1e9) if self.discrete else head

    def _agent_log_prob_entropy(self, params, head: Array, mask: Array, action: Array):
        """Per-agent (log_prob (N,), entropy (N,)) given the decoder's heads."""
        return self.individual_log_prob_entropy(params, ActorOutput(head=head, feature=head), mask, action)

    def autoregressive(self, params, rep: Array, mask: Array, key: Array | None, greedy: bool) -> Array:
        """Decode agents 0..N-1 in turn; agent i's action from the actions already chosen (sampled, or the
        greedy mode with `greedy`)."""
        n = self.num_agents
        keys = jax.random.split(jax.random.PRNGKey(0) if key is None else key, n)

        def body(action, x):
            i, k = x
            head = jax.lax.dynamic_index_in_dim(self.decode(params, rep, action, mask), i, keepdims=False)
            mask_i = jax.lax.dynamic_index_in_dim(mask, i, keepdims=False)
            if self.discrete:
                a_i = jnp.argmax(head) if greedy else D.categorical(head).sample(seed=k)
            else:
                std = jnp.exp(self.individual_log_std(params))
                a_i = head if greedy else head + std * jax.random.normal(k, head.shape)
                a_i = jnp.where(mask_i, a_i, 0.0)
            return jax.lax.dynamic_update_index_in_dim(action, a_i.astype(action.dtype), i, 0), None

        action, _ = jax.lax.scan(body, jnp.zeros(self.spec.action_shape(), self._action_dtype()),
                                 (jnp.arange(n), keys))
        return action

    # ----- the policy -------------------------------------------------------------------------------------
    def act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams) -> PolicyStep:
        action = self.autoregressive(params, out.feature, mask, key, greedy=False)
        log_prob, _ = self._agent_log_prob_entropy(params, self.decode(params, out.feature, action, mask), mask,
                                                   action)
        return PolicyStep(action, log_prob, (), {})

    def individual_act(self, params, out: ActorOutput, state: Array, mask: Array, key: Array, hp: HParams):
        return self.act(params, out, state, mask, key, hp)  # no individual policies: the autoregressive sample

    def evaluate(self, params, out: ActorOutput, state: Array, mask: Array, action: Array, extras, hp: HParams):
        """Teacher forcing: every agent's conditional log-probability of the stored joint action in one pass."""
        log_prob, entropy = self._agent_log_prob_entropy(params, self.decode(params, out.feature, action, mask),
                                                         mask, action)
        return log_prob, entropy, jnp.zeros(()), {}

    def mode(self, params, out: ActorOutput, mask: Array) -> Array:
        """Greedy autoregressive decoding (centralised: it reads every agent's observation and earlier actions)."""
        return self.autoregressive(params, out.feature, mask, None, greedy=True)


class MATDec(MAT):
    """MAT-Dec: the encoder as a centralised critic, decentralised per-agent MLP actors on their own observations."""

    name = "mat_dec"

    def __init__(self, spec: EnvSpec, config: TrainConfig):
        super().__init__(spec, config)
        self.dec_actor = DecActor(num_agents=spec.num_agents, action_dim=spec.action_dim, embd=config.mat_embd)

    def _init_actor(self, key: Array, obs: Array, rep: Array) -> dict:
        return {"dec_actor": self.dec_actor.init(key, obs)["params"]}

    def actor_step(self, params, h: Array, obs: Array, mask: Array, reset: Array) -> tuple[Array, ActorOutput]:
        head = self.dec_actor.apply({"params": params["dec_actor"]}, obs)
        if self.discrete:
            head = jnp.where(mask, head, -1e9)
        return h, ActorOutput(head=head, feature=head)

    # individual policies: ActorCritic's act / evaluate / mode on the per-agent heads
    individual_act = ActorCritic.individual_act
    act = ActorCritic.act
    evaluate = ActorCritic.evaluate
    mode = ActorCritic.mode
