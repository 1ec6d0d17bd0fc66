"""The Policy Modifier (PM) of AgentMixer (Li et al., AAAI 2025, arXiv 2401.08728, Sec. 4).

Per-agent features X in R^{N x C} pass through MLP-Mixer blocks (Tolstikhin et al. 2021):

    agent mixing:    X = X + W2 act(W1 LN(X)^T)^T     mixes across agents, shared over channels
    channel mixing:  X = X + act(LN(X) W1) W2         per agent, across channels

Sizes follow the authors' code (LiZhYun/BackPropagationThroughAgents, action_attention.py: width 64,
token hidden 0.5 x width, channel hidden 4 x width, pre-LayerNorm residual blocks).

Two architectures (`arch`):

  mixer    ours: one input layer over the concatenated features and a one-hot id, then the mixer blocks
  authors  the authors' `Action_Attention` (bta/algorithms/utils/action_attention.py @ 13607d0, last changed
           7f9af49; their `MLPBase` and `MLPLayer` in bta/algorithms/utils/mlp.py) exactly, feed-forward:
             state:  LayerNorm, Linear-ReLU-LayerNorm, Linear-ReLU-LayerNorm    (MLPBase, layer_N = 1)
             policy: Linear-ReLU-LayerNorm                                      (`logit_encoder`)
             all:    Linear-ReLU-LayerNorm over [state, policy, actor feature, one-hot id] (`feat_encoder`)
           then the mixer blocks, whose MLPs are Linear-ReLU-LayerNorm-Linear (their `FeedForward`), a final
           LayerNorm and the head; orthogonal initialisation (gain sqrt 2, the head 0.01: the joint starts
           close to, not exactly at, the product of the individual policies). Not reproduced: with their
           default `use_recurrent_policy` the state features also pass through a GRU.

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

from agentmixer_jax.networks import ACTIVATIONS, dense, orthogonal

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


def mlp(x: Array, hidden: int, out: int, activation: str, init: str, hidden_norm: bool) -> Array:
    """Linear-act(-LayerNorm)-Linear over the last axis (inside a compact module): the mixer blocks' MLP; with
    `hidden_norm` the authors' `FeedForward` (a LayerNorm after the hidden activation)."""
    out_layer = dense(out, init=init)  # made first, so named Dense_0 (the hidden layer Dense_1) as it always was
    h = ACTIVATIONS[activation](dense(hidden, init=init)(x))
    return out_layer(nn.LayerNorm()(h) if hidden_norm else h)


class AgentMixing(nn.Module):
    """X (N, C) -> X + agent-mixing MLP of LN(X), mixing across agents independently per channel."""

    num_agents: int
    hidden: int
    activation: str = "relu"
    equivariant: bool = False
    init: str = "normal"
    hidden_norm: bool = False

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
            mixed = jnp.swapaxes(mlp(yt, self.hidden, self.num_agents, self.activation, self.init, self.hidden_norm),
                                 -1, -2)
        return x + mixed


class ChannelMixing(nn.Module):
    """X (N, C) -> X + act(LN(X) W1) W2, per agent across channels."""

    hidden: int
    activation: str = "relu"
    init: str = "normal"
    hidden_norm: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        y = nn.LayerNorm()(x)
        return x + mlp(y, self.hidden, x.shape[-1], self.activation, self.init, self.hidden_norm)


class PolicyModifier(nn.Module):
    """Mix per-agent features into per-agent outputs of width `out_dim`.

    Args of `__call__`:
        features: (N, F) per-agent input features (policy-output embedding, hidden feature, state, ...); with
            arch="authors" exactly [policy (policy_dim), actor feature, state (state_dim)]
    Returns (N, out_dim). arch="mixer": the output layer starts at zero so that, at initialisation, the joint
    policy equals the product of the individual policies; arch="authors": see the module docstring.
    """

    num_agents: int
    out_dim: int
    channels: int = 64
    blocks: int = 1
    token_hidden: int = 32
    channel_hidden: int = 128
    activation: str = "relu"
    agent_ids: bool = True
    arch: str = "mixer"
    policy_dim: int = 0  # arch="authors": the widths of the policy and state groups of `features`
    state_dim: int = 0
    mixing: str = "ac"  # the mixing layers of each block, agent (a) and channel (c); fewer only to profile the PM

    @nn.compact
    def __call__(self, features: Array) -> Array:
        ids = jnp.eye(self.num_agents, dtype=features.dtype)
        authors = self.arch == "authors"
        init = "orthogonal" if authors else "normal"
        if authors:
            def encode(x, name):  # Linear-ReLU-LayerNorm, as their encoders and MLPLayer
                return nn.LayerNorm(name=f"{name}_norm")(ACTIVATIONS[self.activation](
                    dense(self.channels, init="orthogonal", name=name)(x)))

            split = features.shape[-1] - self.state_dim  # [policy | actor feature | state]
            policy, feature = features[:, :self.policy_dim], features[:, self.policy_dim:split]
            state = nn.LayerNorm(name="state_input_norm")(features[:, split:])
            state = encode(encode(state, "state_0"), "state_1")
            x = encode(jnp.concatenate([state, encode(policy, "policy"), feature, ids], -1), "features")
        else:
            if self.agent_ids:
                features = jnp.concatenate([features, ids], axis=-1)
            x = nn.LayerNorm()(ACTIVATIONS[self.activation](dense(self.channels)(features)))
        for _ in range(self.blocks):
            if "a" in self.mixing:
                x = AgentMixing(self.num_agents, self.token_hidden, self.activation,
                                equivariant=not self.agent_ids, init=init, hidden_norm=authors)(x)
            if "c" in self.mixing:
                x = ChannelMixing(self.channel_hidden, self.activation, init=init, hidden_norm=authors)(x)
        x = nn.LayerNorm()(x)
        head_init = orthogonal(0.01) if authors else nn.initializers.zeros
        return nn.Dense(self.out_dim, kernel_init=head_init, bias_init=nn.initializers.zeros, name="out")(x)
