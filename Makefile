# Two entry points for a new machine: `make run` (the screening service on the embedded
# defaults) and `make test` (lint, types, the whole test suite). Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck train bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cvguard serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -n auto

train: $(STAMP)
	$(BIN)/cvguard train

bench: $(STAMP)
	$(BIN)/python bench/bench_screen.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
