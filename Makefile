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

.PHONY: chromium
chromium: ## Install Debian's Chromium (the dashboard's browser tests drive it headless) when missing
	@if ! command -v chromium >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
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
install: redis chromium $(VENV)/.installed $(TS)/node_modules/.installed ## Install every tool and dependency the project needs

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
	$(VENV)/bin/mypy worker/python/ardiq tests conformance bench/*.py bench/harness demo testing/src testing/tests release/*.py docs/check_samples.py
	$(VENV)/bin/mypy clients/python/src clients/python/tests clients/python/bench_enqueue.py clients/python/generate_proto.py
	for example in examples/*/; do (cd $$example && ../../$(VENV)/bin/mypy --strict .) || exit 1; done
	cd release/consumers && ../../$(VENV)/bin/mypy --strict --explicit-package-bases .
	$(PY) -m conformance.vectors.generate --check
	$(PY) -m conformance.script_fragments
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
	cd $(TS) && npm run --silent lint

# Each suite starts its own Redis through $(WITH_REDIS) (or uses REDIS_URL when set), so each
# target passes alone; the ones that run the Python worker depend on build-dev.
.PHONY: test
test: lint test-rust test-rust-e2e test-python test-dashboard test-ts test-ts-e2e test-bench test-conformance test-dist test-protobuf-lowest docs ## Lint, then every test suite, each against a throwaway Redis of its own (the CI command)

.PHONY: test-rust
test-rust: install ## Rust unit, integration and doc tests (no Python worker needed)
	$(WITH_REDIS) cargo test --workspace --all-features --quiet

.PHONY: test-rust-e2e
test-rust-e2e: build-dev ## The Rust client's jobs run by the Python worker (clients/rust/tests/e2e.rs)
	$(WITH_REDIS) cargo test -p ardiq-client --features opentelemetry --test e2e --quiet

.PHONY: test-python
test-python: build-dev ## Python tests: the worker, the pure-Python client, ardiq-testing
	$(VENV)/bin/pytest -q tests clients/python/tests testing/tests --ignore=tests/dashboard

.PHONY: test-dashboard
test-dashboard: build-dev ## The web dashboard in headless Chromium against Redis and workers (screenshots: target/dashboard-screenshots)
	$(VENV)/bin/pytest -q tests/dashboard

.PHONY: test-ts
test-ts: install ## TypeScript client tests (no Python worker needed)
	cd $(TS) && $(WITH_REDIS) npm test --silent

.PHONY: test-ts-e2e
test-ts-e2e: build-dev ## The TypeScript client's jobs run by the Python worker (clients/typescript/test/e2e/)
	cd $(TS) && $(WITH_REDIS) npm run --silent test:e2e

.PHONY: test-bench
test-bench: build-dev ## Smoke run of the benchmark harness and the floor probes (ArdiQ only, tiny counts; no timing checks)
	$(PY) bench/run.py --quick --strict --only ardiq --output $${TMPDIR:-/tmp}/ardiq-bench-smoke.json > /dev/null
	$(PY) bench/latency_floor.py 20 > /dev/null
	$(PY) bench/call_floor.py 1 50 > /dev/null
	$(PY) bench/batch_floor.py 2 > /dev/null

.PHONY: test-conformance
test-conformance: build-dev ## Every vector and behaviour through every implementation, single Redis and cluster
	# The Rust testee from this checkout (incremental): a binary left by an older build would test old code.
	cargo build --release --quiet -p ardiq-conformance-testee
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

DIST := dist
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
PROTOBUF_LOWEST := 4.22.0

.PHONY: dist
dist: build-dev ## Build every package into dist/: ardiq wheel (abi3, release, manylinux tag) and sdist, ardiq-client and ardiq-testing wheels and sdists, the npm tarball, the two crates
	# target/package too: cargo reuses the unpacked crates of an older package of the same version.
	rm -rf $(DIST) target/npm-pack target/package && mkdir -p $(DIST) target/npm-pack
	# The wheel from the checkout (the release build of build-dev is reused), the sdist apart.
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin build --quiet --release --out $(DIST)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin sdist --out $(DIST)
	$(PY) -m build --no-isolation --outdir $(DIST) clients/python > /dev/null
	$(PY) -m build --no-isolation --outdir $(DIST) testing > /dev/null
	# The npm tarball from the files a clone has (tracked or new, not ignored): no dist/, no node_modules.
	git ls-files -z --cached --others --exclude-standard $(TS) | xargs -0 cp --parents -t target/npm-pack
	cd target/npm-pack/$(TS) && npm ci --prefer-offline --no-audit --no-fund --loglevel=error \
		&& npm pack --quiet --pack-destination $(CURDIR)/$(DIST) > /dev/null
	# cargo verifies the two crates against a local registry, unpacked under CARGO_HOME/registry/src
	# and built into target/debug; taking registry crates as immutable, it would reuse an older
	# package of the same version: remove its sources and its build.
	rm -rf $${CARGO_HOME:-$$HOME/.cargo}/registry/src/-*/ardiq-spec-$(VERSION) $${CARGO_HOME:-$$HOME/.cargo}/registry/src/-*/ardiq-client-$(VERSION)
	for d in $$(grep -l '/registry/src/-' target/debug/deps/ardiq_*.d 2>/dev/null); do \
		n=$$(basename $${d%.d}); rm -rf $$d target/debug/deps/lib$$n.* target/debug/.fingerprint/$$(echo $$n | tr _ -); done
	cargo package --quiet --allow-dirty -p ardiq-spec -p ardiq-client
	cp target/package/ardiq-spec-$(VERSION).crate target/package/ardiq-client-$(VERSION).crate $(DIST)/
	@ls -1 $(DIST)

.PHONY: test-dist
test-dist: dist ## Install each artifact of dist/ in a clean environment and run a job from every producer through the installed worker
	$(PY) -m release.check_metadata
	$(PY) -m release.check_install

.PHONY: test-dist-full
test-dist-full: dist ## test-dist, and the ardiq sdist built and installed too (a release build of the Rust core)
	$(PY) -m release.check_metadata
	$(PY) -m release.check_install --full

.PHONY: test-protobuf-lowest
test-protobuf-lowest: dist ## The pure-Python client's tests on the lowest protobuf it supports ($(PROTOBUF_LOWEST)), its wheel and the worker's in a fresh venv
	rm -rf target/protobuf-lowest && python3 -m venv target/protobuf-lowest
	grep -v '^protobuf==' requirements-dev.txt > target/protobuf-lowest/constraints.txt
	target/protobuf-lowest/bin/pip install --quiet -c target/protobuf-lowest/constraints.txt \
		$(DIST)/ardiq_client-*.whl $(DIST)/ardiq_testing-*.whl $(DIST)/ardiq-*.whl protobuf==$(PROTOBUF_LOWEST) \
		pytest pytest-asyncio pytest-timeout opentelemetry-api opentelemetry-sdk
	target/protobuf-lowest/bin/python -c 'import google.protobuf as p, ardiq_client as c; \
		assert p.__version__ == "$(PROTOBUF_LOWEST)", p.__version__; assert "/site-packages/" in c.__file__, c.__file__'
	# Less the check of the generated files, whose protoc (grpcio-tools) needs a newer protobuf.
	$(WITH_REDIS) target/protobuf-lowest/bin/pytest -q -p no:cacheprovider clients/python/tests \
		--deselect clients/python/tests/test_records.py::test_generated_protobuf_files_match_protoc_output

.PHONY: docs
docs: build-dev ## Build the documentation into site/ (MkDocs, typedoc, rustdoc; warnings are errors) and type-check every code sample in it
	$(VENV)/bin/mkdocs build --strict --quiet
	cd $(TS) && npm run --silent docs -- --logLevel Warn
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet -p ardiq-spec -p ardiq-client
	rm -rf site/reference/rust && cp -r target/doc site/reference/rust
	# The reference index links to these pages in raw HTML, which MkDocs does not check.
	test -f site/reference/typescript/index.html && test -f site/reference/rust/ardiq_client/index.html \
		&& test -f site/reference/rust/ardiq_spec/index.html
	$(PY) docs/check_samples.py
