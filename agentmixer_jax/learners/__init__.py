"""How it learns: one learner per update rule, each `init(...) -> state` and `update(state, hp) -> (state, metrics)`.

`ppo.py` (joint or per-agent clipped ratios) serves every algorithm registered today; off-policy (SAC) and
sequential-update (HAPPO) learners are its future siblings. A learner's state carries everything it needs to
continue (parameters, optimiser, environments mid-episode, keys), so the trainer can checkpoint it between chunks.
"""

from agentmixer_jax.learners.ppo import PPO, PPOState, Transition

__all__ = ["PPO", "PPOState", "Transition"]
