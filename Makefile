# ArdiQ: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV := .venv
PY := $(VENV)/bin/python
TS := clients/typescript
WITH_REDIS := $(CURDIR)/$(PY) -m ardiq_testing.redis --

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-18s %s\n", $$1, $$2}'

.PHONY: redis
redis: ## Install redis-server, redis-cli and openssl (TLS tests) from Debian's packages when missing
	@if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v openssl >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server redis-tools openssl >/dev/null; \
	fi

$(VENV)/.installed: requirements-dev.txt clients/python/pyproject.toml testing/pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	$(VENV)/bin/pip install -q --no-deps -e clients/python -e testing
	touch $@

$(TS)/node_modules/.installed: $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: install
install: redis $(VENV)/.installed $(TS)/node_modules/.installed ## Install every tool and dependency the project needs

.PHONY: build-dev
build-dev: install ## Build the native worker module into the virtualenv and the TypeScript client
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --release --quiet
	cd $(TS) && npm run --silent build

.PHONY: format
format: install ## Format Python, Rust and TypeScript sources
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	cargo fmt --all
	cd $(TS) && npm run --silent format

.PHONY: lint
lint: build-dev ## Lint and type-check everything (ruff, mypy --strict, clippy, rustfmt, tsc --strict; vectors match their generator, shared Lua fragments match)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy worker/python/ardiq tests conformance bench/*.py bench/harness demo testing/src testing/tests
	$(VENV)/bin/mypy clients/python/src clients/python/tests clients/python/bench_enqueue.py
	for example in examples/*/; do (cd $$example && ../../$(VENV)/bin/mypy --strict .) || exit 1; done
	$(PY) -m conformance.vectors.generate --check
	$(PY) -m conformance.script_fragments
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	cd $(TS) && npm run --silent lint

# Each suite starts its own Redis through $(WITH_REDIS) (or uses REDIS_URL when set), so each
# target passes alone; the ones that run the Python worker depend on build-dev.
.PHONY: test
test: lint test-rust test-rust-e2e test-python test-ts test-ts-e2e test-bench test-conformance ## Lint, then every test suite, each against a throwaway Redis of its own (the CI command)

.PHONY: test-rust
test-rust: install ## Rust unit, integration and doc tests (no Python worker needed)
	$(WITH_REDIS) cargo test --workspace --quiet

.PHONY: test-rust-e2e
test-rust-e2e: build-dev ## The Rust client's jobs run by the Python worker (clients/rust/tests/e2e.rs)
	$(WITH_REDIS) cargo test -p ardiq-client --test e2e --quiet

.PHONY: test-python
test-python: build-dev ## Python tests: the worker, the pure-Python client, ardiq-testing
	$(VENV)/bin/pytest -q tests clients/python/tests testing/tests

.PHONY: test-ts
test-ts: install ## TypeScript client tests (no Python worker needed)
	cd $(TS) && $(WITH_REDIS) npm test --silent

.PHONY: test-ts-e2e
test-ts-e2e: build-dev ## The TypeScript client's jobs run by the Python worker (clients/typescript/test/e2e/)
	cd $(TS) && $(WITH_REDIS) npm run --silent test:e2e

.PHONY: test-bench
test-bench: build-dev ## Smoke run of the benchmark harness (ArdiQ only, tiny counts; no timing checks)
	$(PY) bench/run.py --quick --strict --only ardiq --output $${TMPDIR:-/tmp}/ardiq-bench-smoke.json > /dev/null

.PHONY: test-conformance
test-conformance: build-dev ## Every vector and behaviour through every implementation, single Redis and cluster
	$(VENV)/bin/pytest -q conformance
	$(PY) -m conformance.runner

.PHONY: demo
demo: build-dev ## Enqueue from Python, Rust and TypeScript; run a worker; print results and timings
	$(PY) demo/demo.py

.PHONY: chaos
chaos: build-dev ## Kill workers at random and restart Redis under load; count lost and twice-run jobs (CHAOS_ARGS="--seed N ...")
	$(PY) tests/chaos.py $(CHAOS_ARGS)

.PHONY: bench
bench: build-dev ## Benchmarks against peer queues, side by side (see bench/README.md)
	$(PY) bench/run.py

.PHONY: lock
lock: ## Re-pin the Python development dependencies (everything in .venv but the project's own packages)
	{ echo '# Pinned development and test dependencies (the Python lock). Regenerate with `make lock`.'; \
		$(VENV)/bin/pip freeze --exclude-editable | grep -v '^ardiq' | LC_ALL=C sort -f; } > requirements-dev.txt.new
	mv requirements-dev.txt.new requirements-dev.txt
