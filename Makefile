# The project's verbs. `make run` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test test-fast bench-store bench-rebuild bench-e2e bench-relay migrate setup services lint clean-vhosts

setup:
	@bash scripts/bootstrap.sh

services:
	@bash scripts/ensure-services.sh

migrate: setup services
	$(PY) -m services.backbone.migrations

# Start every service, play the demo scenario through the HTTP API, print its summary, run until Ctrl-C.
run: setup services migrate
	$(PY) -m deploy.supervise --then deploy.demo $(ARGS)

test: setup services
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -q tests/unit

bench-store: setup services
	$(PY) -m bench.store

bench-e2e: setup services
	$(PY) -m bench.e2e

bench-rebuild: setup services
	$(PY) -m bench.rebuild

bench-relay: setup services
	$(PY) -m bench.relay

lint: setup
	$(PY) -m ruff check services tests bench deploy

clean-vhosts:
	@bash scripts/clean-test-vhosts.sh
