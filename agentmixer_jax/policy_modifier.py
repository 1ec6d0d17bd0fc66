"""The Policy Modifier (PM) of AgentMixer (Li et al., AAAI 2025, arXiv 2401.08728, Sec. 4).

Per-agent features X in R^{N x C} pass through MLP-Mixer blocks (Tolstikhin et al. 2021):

    agent mixing:    X = X + W2 act(W1 LN(X)^T)^T     mixes across agents, shared over channels
    channel mixing:  X = X + act(LN(X) W1) W2         per agent, across channels

Sizes follow the authors' code (LiZhYun/BackPropagationThroughAgents, action_attention.py: width 64,
token hidden 0.5 x width, channel hidden 4 x width, pre-LayerNorm residual blocks).

Agent identity. With `agent_ids=True` (default) a one-hot agent id is part of the input and the
agent-mixing MLP is the dense MLP-Mixer token mixer, whose weights are indexed by agent position.
With `agent_ids=False` the PM is made permutation-equivariant: no id feature, and the agent-mixing
layers use the exchangeable parameterisation W = a I + b 11^T / N (Zaheer et al. 2017, Deep Sets),
so permuting the agents of the input permutes the output rows the same way.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from agentmixer_jax.networks import ACTIVATIONS, dense

Array = jax.Array


class ExchangeableDense(nn.Module):
    """Permutation-equivariant map over the agent axis: y (N, C) -> (features, N, C).

    out[k, i, c] = a[k] * y[i, c] + b[k] * mean_j y[j, c] + bias[k]
    """

    features: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        a = self.param("a", nn.initializers.normal(1.0), (self.features,))
        b = self.param("b", nn.initializers.normal(1.0), (self.features,))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        mean = jnp.mean(y, axis=-2, keepdims=True)
        return a[:, None, None] * y[None] + b[:, None, None] * mean[None] + bias[:, None, None]


class AgentMixing(nn.Module):
    """X (N, C) -> X + agent-mixing MLP of LN(X), mixing across agents independently per channel."""

    num_agents: int
    hidden: int
    activation: str = "relu"
    equivariant: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        act = ACTIVATIONS[self.activation]
        y = nn.LayerNorm()(x)
        if self.equivariant:
            hid = act(ExchangeableDense(self.hidden)(y))  # (H, N, C)
            w_out = self.param("w_out", nn.initializers.normal(1.0 / self.hidden), (self.hidden,))
            w_mean = self.param("w_mean", nn.initializers.normal(1.0 / self.hidden), (self.hidden,))
            mixed = jnp.einsum("k,knc->nc", w_out, hid) + jnp.einsum("k,kc->c", w_mean, hid.mean(axis=1))
        else:
            yt = jnp.swapaxes(y, -1, -2)  # (C, N): tokens are agents
            mixed = jnp.swapaxes(dense(self.num_agents)(act(dense(self.hidden)(yt))), -1, -2)
        return x + mixed


class ChannelMixing(nn.Module):
    """X (N, C) -> X + act(LN(X) W1) W2, per agent across channels."""

    hidden: int
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        y = nn.LayerNorm()(x)
        return x + dense(x.shape[-1])(ACTIVATIONS[self.activation](dense(self.hidden)(y)))


class PolicyModifier(nn.Module):
    """Mix per-agent features into per-agent outputs of width `out_dim`.

    Args of `__call__`:
        features: (N, F) per-agent input features (policy-output embedding, hidden feature, state, ...)
    Returns (N, out_dim); the output layer starts at zero so that, at initialisation, the joint policy
    equals the product of the individual policies.
    """

    num_agents: int
    out_dim: int
    channels: int = 64
    blocks: int = 1
    token_hidden: int = 32
    channel_hidden: int = 128
    activation: str = "relu"
    agent_ids: bool = True

    @nn.compact
    def __call__(self, features: Array) -> Array:
        if self.agent_ids:
            features = jnp.concatenate([features, jnp.eye(self.num_agents, dtype=features.dtype)], axis=-1)
        x = nn.LayerNorm()(ACTIVATIONS[self.activation](dense(self.channels)(features)))
        for _ in range(self.blocks):
            x = AgentMixing(self.num_agents, self.token_hidden, self.activation, equivariant=not self.agent_ids)(x)
            x = ChannelMixing(self.channel_hidden, self.activation)(x)
        x = nn.LayerNorm()(x)
        return nn.Dense(self.out_dim, kernel_init=nn.initializers.zeros, bias_init=nn.initializers.zeros,
                        name="out")(x)
