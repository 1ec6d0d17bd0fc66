# agentmixer-jax: `make train` and `make test` set up .venv on first use (only Python 3.11+ needed).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEEDS ?= 1024
ENV ?= climbing
ALGO ?= agentmixer
ARGS ?=

.PHONY: install train test test-slow lint clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## The main job: AgentMixer on the climbing game over 1024 seeds at once, progress bar and results table.
train: $(STAMP)
	$(PY) -m experiments.train --env $(ENV) --algo $(ALGO) --seeds $(SEEDS) $(ARGS)

## The fast test suite (< 20 min on 2 CPU cores).
test: $(STAMP)
	$(PY) -m pytest

## Longer learning checks.
test-slow: $(STAMP)
	$(PY) -m pytest -m slow

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) runs wandb .pytest_cache .ruff_cache *.egg-info build dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
