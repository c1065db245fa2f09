# Two commands set everything up: `make demo` and `make test` (each installs into .venv first).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: install demo test lint sandbox bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or run: make PYTHON=python3)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/catalog-sync demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check sync_core flows tasks deployments catalog_sync tests
	$(BIN)/mypy

sandbox: install
	$(BIN)/catalog-sync sandbox

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache

bench: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench.run --products 2000
