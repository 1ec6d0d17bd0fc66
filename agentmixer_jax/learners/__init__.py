"""How it learns: one learner per update rule, each `init(...) -> state` and `update(state, hp) -> (state, metrics)`.

`ppo.py` (joint or per-agent clipped ratios) serves the on-policy algorithms, `happo.py` the sequential
per-agent update, `sac.py` the off-policy ones (MASAC, AgentMixer-SAC) with a replay buffer in the state.
A learner's state carries everything it needs to continue (parameters, optimisers, environments mid-episode,
keys, SAC's buffer), so the trainer can checkpoint it between chunks.
"""

from agentmixer_jax.learners.ppo import PPO, PPOState, Transition
from agentmixer_jax.learners.sac import SAC, SACState

__all__ = ["PPO", "PPOState", "SAC", "SACState", "Transition"]
