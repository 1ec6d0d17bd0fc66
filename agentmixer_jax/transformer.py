"""The Multi-Agent Transformer's networks (Wen et al., NeurIPS 2022, "Multi-Agent Reinforcement Learning is a
Sequence Modeling Problem"), over the agent axis of ONE joint step; the policy (`policies/mat.py`) vmaps them.

Architecture as the reference code (PKU-MARL/Multi-Agent-Transformer, mat/algorithms/mat/algorithm/
ma_transformer.py at commit 08a18c6): written anew in flax, same layers and initial gains:
- `Encoder`: LayerNorm -> Dense -> GELU on each agent's observation, LayerNorm, `blocks` x EncodeBlock
  (unmasked self-attention over agents, post-LayerNorm residual; a GELU MLP, post-LayerNorm residual), and a value
  head Dense -> GELU -> LayerNorm -> Dense(1) per agent. Returns (values (N,), representations (N, E)).
- `Decoder`: the shifted previous actions (a start token, then agents 0..N-2's one-hot actions, or their continuous
  actions) through Dense (no bias for discrete) -> GELU, LayerNorm, `blocks` x DecodeBlock (causal
  self-attention over the action tokens; causal attention with the encoder's representations as queries and the
  action tokens as keys and values, residual on the representations; a GELU MLP), and a head Dense -> GELU ->
  LayerNorm -> Dense(A). Position i sees actions of agents < i only (both attentions are causal).
- `DecActor`: MAT-Dec's decentralised actor, per-agent MLPs LayerNorm -> Dense -> GELU -> LayerNorm -> Dense ->
  GELU -> LayerNorm -> Dense(A) on each agent's own observation (`dec_actor=True`, `share_actor=False`).
Every Dense is orthogonal with gain 0.01, or sqrt(2) before an activation (the reference's `init_(...,
activate=True)`), biases 0.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from agentmixer_jax.networks import kernel_init

Array = jax.Array

SMALL_GAIN = 0.01  # the reference's default init gain
ACT_GAIN = float(jnp.sqrt(2.0))  # nn.init.calculate_gain('relu'), used before GELUs in the reference


def _dense(features: int, gain: float = SMALL_GAIN, name: str | None = None, use_bias: bool = True) -> nn.Dense:
    return nn.Dense(features, use_bias=use_bias, kernel_init=kernel_init(gain, "orthogonal"),
                    bias_init=nn.initializers.zeros, name=name)


class AgentAttention(nn.Module):
    """Multi-head attention over the agent axis: query (L, E), key and value (L, E) -> (L, E); `causal` lets
    position i attend to positions <= i only."""

    embd: int
    heads: int
    causal: bool

    @nn.compact
    def __call__(self, query: Array, key: Array, value: Array) -> Array:
        length, hd = query.shape[0], self.embd // self.heads
        q = _dense(self.embd, name="query")(query).reshape(length, self.heads, hd)
        k = _dense(self.embd, name="key")(key).reshape(length, self.heads, hd)
        v = _dense(self.embd, name="value")(value).reshape(length, self.heads, hd)
        logits = jnp.einsum("qhd,khd->hqk", q, k) / jnp.sqrt(jnp.float32(hd))
        if self.causal:
            logits = jnp.where(jnp.tril(jnp.ones((length, length), bool)), logits, -jnp.inf)
        y = jnp.einsum("hqk,khd->qhd", jax.nn.softmax(logits, axis=-1), v).reshape(length, self.embd)
        return _dense(self.embd, name="proj")(y)


class _FeedForward(nn.Module):
    embd: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        return _dense(self.embd)(nn.gelu(_dense(self.embd, gain=ACT_GAIN)(x)))


class EncodeBlock(nn.Module):
    embd: int
    heads: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = nn.LayerNorm()(x + AgentAttention(self.embd, self.heads, causal=False)(x, x, x))
        return nn.LayerNorm()(x + _FeedForward(self.embd)(x))


class DecodeBlock(nn.Module):
    embd: int
    heads: int

    @nn.compact
    def __call__(self, x: Array, rep: Array) -> Array:
        x = nn.LayerNorm()(x + AgentAttention(self.embd, self.heads, causal=True)(x, x, x))
        x = nn.LayerNorm()(rep + AgentAttention(self.embd, self.heads, causal=True)(rep, x, x))
        return nn.LayerNorm()(x + _FeedForward(self.embd)(x))


def _head(x: Array, embd: int, out: int) -> Array:
    x = nn.LayerNorm()(nn.gelu(_dense(embd, gain=ACT_GAIN)(x)))
    return _dense(out)(x)


class Encoder(nn.Module):
    """obs (N, obs_dim) -> (values (N,), representations (N, embd))."""

    embd: int = 64
    heads: int = 1
    blocks: int = 1

    @nn.compact
    def __call__(self, obs: Array) -> tuple[Array, Array]:
        x = nn.gelu(_dense(self.embd, gain=ACT_GAIN)(nn.LayerNorm()(obs)))
        x = nn.LayerNorm()(x)
        for _ in range(self.blocks):
            x = EncodeBlock(self.embd, self.heads)(x)
        return _head(x, self.embd, 1)[:, 0], x


class Decoder(nn.Module):
    """(shifted action tokens (N, A + 1) one-hot or (N, d), encoder representations (N, embd)) -> (N, A) logits
    or means; row i depends on the tokens of rows <= i only, i.e. on the actions of agents < i."""

    action_dim: int
    discrete: bool
    embd: int = 64
    heads: int = 1
    blocks: int = 1

    @nn.compact
    def __call__(self, tokens: Array, rep: Array) -> Array:
        x = nn.gelu(_dense(self.embd, gain=ACT_GAIN, use_bias=not self.discrete)(tokens))
        x = nn.LayerNorm()(x)
        for _ in range(self.blocks):
            x = DecodeBlock(self.embd, self.heads)(x, rep)
        return _head(x, self.embd, self.action_dim)


class _DecActorOne(nn.Module):
    embd: int
    action_dim: int

    @nn.compact
    def __call__(self, obs: Array) -> Array:
        x = nn.LayerNorm()(nn.gelu(_dense(self.embd, gain=ACT_GAIN)(nn.LayerNorm()(obs))))
        x = nn.LayerNorm()(nn.gelu(_dense(self.embd, gain=ACT_GAIN)(x)))
        return _dense(self.action_dim)(x)


class DecActor(nn.Module):
    """MAT-Dec's actors: obs (N, obs_dim) -> (N, A), one MLP per agent on its own observation."""

    num_agents: int
    action_dim: int
    embd: int = 64

    @nn.compact
    def __call__(self, obs: Array) -> Array:
        per_agent = nn.vmap(_DecActorOne, in_axes=0, out_axes=0, variable_axes={"params": 0},
                            split_rngs={"params": True}, axis_size=self.num_agents)
        return per_agent(self.embd, self.action_dim, name="per_agent")(obs)
