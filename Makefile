# Emporium — every developer command. `make` (or `make help`) lists them.
# `make run` and `make test` bootstrap themselves: they need only Python 3.11+ and make.

ifneq (,$(wildcard .env))
include .env
export
endif

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
BIN := $(VENV)/bin
SYNC_STAMP := $(VENV)/.synced

.PHONY: help deps run test soak fuzz unit integration lint fmt typecheck contracts-check migrate migration openapi contracts ready hooks clean bench bench-cpu bench-calls chaos overload

help: ## List the targets
	@printf "Emporium — make targets:\n\n"
	@grep -E '^[a-zA-Z0-9_-]+:.*?## .*$$' $(MAKEFILE_LIST) | sort | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'
	@printf "\n"

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(SYNC_STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked
	@touch $@

deps: $(SYNC_STAMP) ## Create .venv and install the locked dependencies (uv sync --locked)

run: deps ## Start the API on http://127.0.0.1:8000 (embedded PostgreSQL unless DATABASE_URL is set)
	DEMO_BOOTSTRAP=$${DEMO_BOOTSTRAP:-true} $(BIN)/emporium serve

test: deps ## Run the whole test suite (unit, integration, api, architecture, e2e)
	$(BIN)/pytest

soak: deps ## The volume tests at full size (10,000 orders, 5,000 webhooks, 300 checkouts under kill -9); CI runs it
	SOAK=true $(BIN)/pytest -m soak

fuzz: deps ## Schemathesis against a real server, every check, 500 examples per operation (FUZZ_EXAMPLES=..., FUZZ_SEED=...)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} $(BIN)/pytest tests/e2e/test_schemathesis.py -p no:cacheprovider

unit: deps ## Run the fast unit and architecture tests only
	$(BIN)/pytest tests/unit tests/architecture

lint: deps ## Ruff lint + format check, and the import-linter architecture contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

fmt: deps ## Format and autofix with ruff
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: deps ## Benchmark vs ceilings from the same run; results in bench/results/ (ARGS=--quick: 1-2 min)
	$(BIN)/python -m bench.run $(ARGS)

bench-cpu: deps ## Server CPU per checkout vs the reference, rounds in turns (~1 min; ARGS="--clients 8 --rounds 3")
	$(BIN)/python -m bench.cpu_ratio $(ARGS)

bench-calls: deps ## Function calls per checkout vs the reference, in-process: a count load does not move (ARGS=--by-layer)
	$(BIN)/python -m bench.call_count $(ARGS)

chaos: deps ## kill -9 the server under checkout traffic (ARGS="--kills 20"), then check invariants: PASS/FAIL
	$(BIN)/python -m bench.chaos $(ARGS)

overload: deps ## 5x the measured checkout capacity at one server: accepted p99 vs unloaded, 503 speed, recovery (~1.5 min)
	$(BIN)/python -m bench.overload $(ARGS)

typecheck: deps ## mypy --strict on src/
	$(BIN)/mypy

migrate: deps ## Upgrade the database to the newest revision
	$(BIN)/emporium migrate

migration: deps ## New migration from the table definitions: make migration m="add orders"
	@test -n "$(m)" || (echo 'usage: make migration m="what it does"' && exit 2)
	$(BIN)/emporium db revision -m "$(m)"

openapi: deps ## Regenerate contracts/openapi.json from the code
	$(BIN)/emporium openapi --out contracts/openapi.json

contracts-check: deps ## Fail when contracts/ differs from what the code generates (run `make contracts` to fix)
	$(BIN)/pytest -q tests/api/test_contracts_drift.py tests/unit/test_event_contracts.py

contracts: openapi ## Regenerate every contract: openapi.json, events/*.json (JSON Schema) and asyncapi.yaml
	$(BIN)/emporium events contracts --out contracts

docs: deps ## Regenerate docs/modules.md (the module map) from the code
	$(BIN)/emporium docs --out docs/modules.md

ready: deps contracts docs lint typecheck test ## Everything a commit must pass: regenerate, lint, types, contracts, tests

hooks: ## Install the git pre-commit hook that runs `make ready`
	@printf '#!/usr/bin/env bash\nexec make ready\n' > .git/hooks/pre-commit
	@chmod +x .git/hooks/pre-commit
	@echo "pre-commit hook installed: it runs make ready"

clean: ## Remove the virtualenv and caches (keeps .data/)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .hypothesis
