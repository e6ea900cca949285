# The README's two commands: `make run` and `make test`. Both work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export MEDIATION_DATA_DIR ?= $(CURDIR)/data
export MEDIATION_PUBLIC_URL ?= http://127.0.0.1:$(PORT)
export TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
# axe-core, the accessibility rules tests/browser/test_a11y.py injects into every page:
# npm's package, pinned, kept inside the venv (no package.json at the top level).
AXE_VERSION := 4.14.1
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js

.PHONY: run test lint check-postgres system-deps system-test-deps clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

# The stamp names the version, so that changing the pin installs the new one.
$(VENV)/axe/.axe-core-$(AXE_VERSION): | system-test-deps
	npm install --prefix $(VENV)/axe --no-save --no-audit --no-fund --loglevel=error axe-core@$(AXE_VERSION)
	@test -s $(AXE) || { echo "npm installed no $(AXE)"; exit 1; }
	@rm -f $(VENV)/axe/.axe-core-* && touch $@

system-deps:
	@bash .ci/system-deps.sh runtime

system-test-deps:
	@bash .ci/system-deps.sh test

## make run: install, migrate, seed the demo when the database is empty, serve on :8000
run: system-deps $(VENV)/.installed
	$(BIN)/mediation db upgrade
	$(BIN)/mediation demo
	$(BIN)/mediation serve --host 127.0.0.1 --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check-postgres: $(VENV)/.installed-test
	@$(BIN)/python .ci/check_postgres.py

## make test: the same set-up plus test tools and Chromium; lint; the suite on SQLite, then PostgreSQL
test: system-deps system-test-deps $(VENV)/.installed-test $(VENV)/axe/.axe-core-$(AXE_VERSION)
	$(MAKE) --no-print-directory lint
	TEST_DATABASE=sqlite $(BIN)/pytest
	@if $(BIN)/python .ci/check_postgres.py; then \
	  TEST_DATABASE=postgresql $(BIN)/pytest; \
	else \
	  echo "!! PostgreSQL run NOT done: see the message above."; \
	  if [ "$$CI" = "true" ]; then exit 1; fi; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
