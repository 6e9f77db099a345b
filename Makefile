# TradeX developer entry points. `make run` and `make test` are the two commands the README gives.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
# Reinstall only when a requirements file is newer than the last install.
STAMP := $(VENV)/.requirements.stamp

HOST ?= 127.0.0.1
PORT ?= 8000
# Seconds `make run` waits for GET /readyz before saying what is not ready (it keeps running).
READY_TIMEOUT ?= 120

.PHONY: run test bench venv migrate lint assets

venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

migrate: venv
	$(MANAGE) migrate --noinput

# Embedded mode (SQLite, in-memory layer) unless DATABASE_URL / REDIS_URL are set. With
# DATABASE_URL the processes run tradex.settings.production; on a loopback HOST the launcher sets
# TRADEX_INSECURE_HTTP=1 (plain http://) unless it is set (docs/operations.md). Per-stack state
# goes to TRADEX_VAR_DIR (default var/).
# `exec` makes the launcher make's direct child, so a SIGTERM to make reaches it.
# The terminal's browser libraries (frontend/package.json, npm registry), copied where Django's
# static files find them; installed in the build, never committed.
VENDOR := frontend/static/frontend/vendor
assets: $(VENDOR)/lightweight-charts.standalone.production.js

$(VENDOR)/lightweight-charts.standalone.production.js: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp frontend/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js $@

run: migrate assets
	$(MANAGE) collectstatic --noinput -v 0
	$(MANAGE) seed_demo
	exec env TRADEX_MARKET_CLOCK=$${TRADEX_MARKET_CLOCK:-always_open} $(MANAGE) run_tradex --host $(HOST) --port $(PORT) --ready-timeout $(READY_TIMEOUT)

# The suite runs on PostgreSQL and Redis only (tests/conftest.py refuses SQLite).
test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tradex
test: export REDIS_URL ?= redis://127.0.0.1:6379/15
test: venv assets
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: venv
	$(PY) bench/run.py

# Style, the layers contract (.importlinter) and the app-level import graph (no cycle).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) tools/import_graph.py
