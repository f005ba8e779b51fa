# The two commands: `make run` and `make test`. Everything else is a step they share.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app

.PHONY: run test install lint format vendor serve

## Install (idempotent): the virtualenv with the app and its test tools.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

## Migrate, load the demo data on the first run, serve app + scheduler (PORT=5000 unless set).
run: install
	$(FLASK) db upgrade
	$(FLASK) demo load --if-empty
	$(FLASK) serve

## Production: migrate, then gunicorn (WEB_CONCURRENCY workers, default 2) on HOST:PORT and the
## scheduler (SCHEDULER_PROCESSES, default 1); Ctrl-C or SIGTERM stops them all.
serve: install
	VENV=$(VENV) scripts/serve.sh

## The test suite (SQLite; set TEST_DATABASE_URL=postgresql+psycopg://... for PostgreSQL).
test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Refresh the vendored front-end libraries from package.json (needs npm).
vendor:
	scripts/vendor-assets.sh
