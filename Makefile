# agentmixer-jax: `make train` and `make test` set up .venv on first use (only Python 3.11+ needed).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEEDS ?= 1024
ENV ?= climbing
ALGO ?= agentmixer
ARGS ?=
TEST_WORKERS ?= 2

.PHONY: install train test test-slow lint clean bench-ant bench-envs

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## The main job: AgentMixer on the climbing game over 1024 seeds at once, progress bar and results table.
train: $(STAMP)
	$(PY) -m experiments.train --env $(ENV) --algo $(ALGO) --seeds $(SEEDS) $(ARGS)

## The fast test suite (12.2 min with the install on 2 CPU cores from a fresh clone, 2026-12-06 evening; compiled at XLA level 0: tests/conftest.py), in TEST_WORKERS pytest-xdist workers.
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=30

## Longer learning checks.
test-slow: $(STAMP)
	$(PY) -m pytest -m slow -n $(TEST_WORKERS)

## Speed of AgentMixer-PPO training on ant_4x2 against raw Brax stepping (BENCHMARKS.md).
bench-ant: $(STAMP)
	$(PY) -m experiments.bench_ant $(ARGS)

## Environment step throughput at many parallel envs; SMAX comparison needs the `bench` extra.
bench-envs: $(STAMP)
# The `bench` extra (pyproject.toml) goes in with --no-deps: jaxmarl 0.2.0's requirements pull gymnax, which
# pins gymnasium<1.4 (a downgrade of jumanji's), plus pandas and seaborn; its SMAX import path needs none of
# them, only jaxtyping (brax, matplotlib, pillow are already here). jax/flax/optax/chex/brax stay untouched.
	$(PY) -m pip install -q --no-deps $$($(PY) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['bench']))")
	$(PY) -m experiments.bench_envs $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) runs wandb .pytest_cache .ruff_cache *.egg-info build dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
