# Before Service: `make run` starts the whole engine with a demo; `make test` runs the suite on real parts.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
TEST_DATABASE_URL ?= postgresql+psycopg://beforeservice:beforeservice@127.0.0.1:5432/beforeservice_test

# Fault tests (tests/faults): full size in `make test-faults`, a reduced stream in `make test` (CI's 90 minutes).
FAULT_EVENTS ?= 50000
FAULT_EVENTS_IN_TEST ?= 3000

.PHONY: install run test test-unit test-faults lint postgres schemas clean browsers ops-tools vendor-js

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# DEV_MODE: the public development secrets, with a loud warning (the engine refuses them without it).
run: install
	DEV_MODE=true $(BIN)/beforeservice up --demo

postgres:
	bash tests/support/start_postgres.sh

# Headless Chromium for the console's browser tests, from Debian (never a downloaded browser build); Korean fonts
# so screenshots show text. Only when missing; non-interactive for CI.
browsers:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi nanum; then \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-nanum; \
	fi

# promtool (alert rules) and kubectl (kustomize renders deploy/k8s) from Debian, for tests/beforeservice/ops.
# Only when missing; non-interactive for CI.
ops-tools:
	@if ! command -v promtool >/dev/null || ! command -v kubectl >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			$$(command -v promtool >/dev/null || echo prometheus) $$(command -v kubectl >/dev/null || echo kubernetes-client); \
	fi

test: install postgres browsers ops-tools
	FAULT_EVENTS=$(FAULT_EVENTS_IN_TEST) TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -q -p no:cacheprovider

test-faults: install postgres
	FAULT_EVENTS=$(FAULT_EVENTS) TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -q -s -p no:cacheprovider tests/faults

test-unit: install
	$(BIN)/pytest -q -m "not integration"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy events rules_engine entitlements notifiers beforeservice tests

# The citizens' app's firebase messaging bundle, from the npm registry (versions pinned in js/citizen-app/package.json
# and its lock file), built by esbuild into the app's static files. The output is committed: neither CI nor
# `make run` needs npm; run this after changing the pinned versions, and commit the result.
vendor-js:
	cd js/citizen-app && npm ci --no-audit --no-fund && npx esbuild firebase-messaging.js --bundle --format=esm \
		--minify --target=es2020 --legal-comments=external \
		--outfile=../../beforeservice/citizen_app/static/vendor/firebase-messaging.js

schemas: install
	$(BIN)/beforeservice schemas export docs/schemas

clean:
	rm -rf $(VENV) var .pytest_cache
