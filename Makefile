# Syncline — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(abspath .)
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
KAFKA := $(or $(SYNCLINE_KAFKA__BOOTSTRAP_SERVERS),127.0.0.1:19092)
PYTEST_ARGS ?=

.PHONY: help install up down status run stop test lint fmt bench chaos chaos-short secret-key

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

install: ## install uv (if missing) and every Python dependency from uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install -q uv
	@$(UV) sync --frozen --quiet

up: install ## start PostgreSQL and Kafka under .local/ (reused when running; skipped when SYNCLINE_* point elsewhere)
	@if [ -z "$$SYNCLINE_DATABASE_URL" ]; then deploy/local/postgres/pg.sh start; fi
	@if [ -z "$$SYNCLINE_KAFKA__BOOTSTRAP_SERVERS" ]; then deploy/local/kafka/kafka.sh start; fi
	@$(UV) run --frozen python deploy/local/wait_kafka.py $(KAFKA) 120

down: ## stop the services, Kafka and PostgreSQL (data stays under .local/)
	@deploy/local/run.sh stop
	@deploy/local/kafka/kafka.sh stop
	@deploy/local/postgres/pg.sh stop

status: ## show what is running
	@deploy/local/postgres/pg.sh status
	@deploy/local/kafka/kafka.sh status
	@deploy/local/run.sh status

run: up ## start everything with a demo organisation and source database, and print how to use it
	@deploy/local/run.sh start
	@$(UV) run --frozen python deploy/local/welcome.py

stop: ## stop the four services
	@deploy/local/run.sh stop

ES8_ENV := UV_PROJECT_ENVIRONMENT=$(ROOT)/.local/venv-es8

test: up ## install what is missing, start the infrastructure, run the whole suite with the fault suite's short form (+ the Elasticsearch e2e with client 8.x)
	@deploy/local/test-tools.sh install
	@deploy/local/test-tools.sh compose-config
	@$(UV) run --frozen pytest $(PYTEST_ARGS)
	@echo "--- Elasticsearch e2e again with the 8.x client"
	@$(ES8_ENV) $(UV) run --frozen --quiet --no-default-groups --group es8 pytest -p no:cacheprovider $(wildcard tests/e2e/test_elastic_*.py)

lint: install ## ruff, formatting, mypy strict, lock file
	@$(UV) lock --check --quiet
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy libs services tests

fmt: install ## format and autofix
	@$(UV) run --frozen ruff format .
	@$(UV) run --frozen ruff check --fix .

chaos-short: up ## the fault suite's short form alone (one trial per fault kind, about 3 minutes; make test runs it too)
	@$(UV) run --frozen pytest -m chaos tests/chaos

chaos: install ## the fault suite, full form, on its own PostgreSQL and Kafka (CHAOS_TRIALS per fault kind, default 20); writes .local/chaos/results.json
	@$(UV) run --frozen python -m tests.chaos.suite

bench: up ## run the benchmarks (with the tools of the bench group); prints a table, writes .local/bench/results.json
	@$(UV) sync --frozen --quiet --group bench
	@$(UV) run --frozen --group bench python tests/bench/run.py

secret-key: install ## print a fresh SYNCLINE_SECRET_KEY
	@$(UV) run --frozen python -c "from syncline_platform.secrets import generate_key; print(generate_key())"
