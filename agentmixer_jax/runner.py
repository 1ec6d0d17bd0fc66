"""Kept so that code written for the one-closure runner keeps working: `make_train` and `eval_key` now live in
`agentmixer_jax.trainer` (the Trainer's init / run / evaluate, composed into `train(key, hp)`)."""

from agentmixer_jax.trainer import TrainResult, eval_key, make_train

__all__ = ["TrainResult", "eval_key", "make_train"]
