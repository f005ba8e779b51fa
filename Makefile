# The two commands: `make run` and `make test`. Everything else is a step they share.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app

.PHONY: run test install lint format vendor serve bench

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

## Benchmarks (bench/all.py): every figure on SQLite and PostgreSQL beside its baseline and
## target, in one table. PG=<server URL> uses another server (a throwaway database is made and
## dropped on it), PG=none skips PostgreSQL; BENCH_ARGS=--quick runs small sizes.
PG ?= postgresql+psycopg://postgres@127.0.0.1/postgres
bench: install
	$(BIN)/python bench/all.py --postgres '$(PG)' $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Refresh the vendored front-end libraries from package.json (needs npm).
vendor:
	scripts/vendor-assets.sh
