# The two set-up commands: `make demo` and `make test` each build .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The lock: every package's exact version for the supported platform (Linux, CPython 3.11),
# used by every install below; `make lock` resolves pyproject.toml's ranges anew and rewrites it.
CONSTRAINTS := constraints.txt
WHEEL_DIR := build/wheel
WHEEL_VENV := build/wheel-venv
DEMO_DIR ?= demo-project
DEMO_FAMILIES ?= 300

# The machines are offline: no telemetry.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_LOGGING_LEVEL ?= WARNING

.PHONY: demo test test-all bench bench-e2e venv clean snapshot chromium postgresql lock wheel-check

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py $(CONSTRAINTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip -c $(CONSTRAINTS)
	$(BIN)/python -m pip install --quiet -e '.[test]' -c $(CONSTRAINTS)
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/proximite demo --project-dir $(DEMO_DIR) --families $(DEMO_FAMILIES)

# The suite on every core, one test file per worker (module fixtures are built once). CI (CI=true)
# and `make test-all` also run the journeys, the slow end-to-end runs marked `journey`.
PYTEST_WORKERS ?= auto
PYTEST_RUN := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile
ALL_TESTS := -m 'not bench and not slow'

test: $(STAMP) chromium postgresql
	$(PYTEST_RUN) $(if $(filter true,$(CI)),$(ALL_TESTS),) $(PYTEST_ARGS)

test-all: $(STAMP) chromium postgresql
	$(PYTEST_RUN) $(ALL_TESTS) $(PYTEST_ARGS)

# The snapshot of the demo project (after `make demo`): SNAPSHOT_ARGS="--lang en --scope region:06".
snapshot: $(STAMP)
	$(BIN)/proximite snapshot --project-dir $(DEMO_DIR) $(SNAPSHOT_ARGS)

# The browser test opens the snapshot in headless Chromium. Install it where apt is available
# and we are root; otherwise say that the test will be skipped, and never fail here.
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
	    || echo "chromium could not be installed: the browser test will be skipped"; \
	else echo "chromium is not installed (installing it needs root and apt): the browser test will be skipped"; fi

# The shared-installation test runs the scheduling journey on PostgreSQL: it creates its own
# throwaway cluster (initdb in a temporary directory, a free loopback port), so only the server
# programs are needed, never a running system cluster. Installed where apt is available and we
# are root; otherwise say that the test will be skipped, and never fail here.
postgresql:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql) \
	    || echo "postgresql could not be installed: the PostgreSQL test will be skipped"; \
	else echo "postgresql is not installed (installing it needs root and apt): the PostgreSQL test will be skipped"; fi

bench: $(STAMP)
	$(BIN)/python tests/bench/run_bench.py $(BENCH_ARGS)

# The pipeline flow end to end (input files → snapshot) against a DuckDB scan of the same inputs,
# one JSON line per stage. Province and x5 take many minutes and GBs: run them on an idle machine.
# BENCH_E2E_ARGS="--scales pilot --variants files redcap --incremental --compare-with DIR"
BENCH_E2E_ARGS ?= --scales pilot province x5
bench-e2e: $(STAMP)
	$(BIN)/python tests/bench/bench_e2e.py $(BENCH_E2E_ARGS)

# Resolve pyproject.toml's ranges in a throwaway environment and write the lock from it.
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet '.[test]'
	{ echo "# The lock of Proximité's installs (Linux, CPython 3.11): make demo, make test and CI install"; \
	  echo "# with -c constraints.txt. Regenerate with 'make lock' after changing pyproject.toml's ranges."; \
	  build/lock-venv/bin/python -m pip freeze --all --exclude proximite; } > $(CONSTRAINTS)
	rm -rf build/lock-venv

# The installed package as a user gets it: build the wheel, install it with its dependencies into
# a clean environment, and run the spec tests and a 60-family demo with no source tree on the path.
wheel-check: $(STAMP)
	# setuptools builds in build/lib: a stale copy there would put deleted modules into the wheel.
	rm -rf build/lib build/bdist.* $(WHEEL_DIR) $(WHEEL_VENV)
	$(BIN)/python -m pip wheel --quiet --no-deps -w $(WHEEL_DIR) .
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet --upgrade pip -c $(CONSTRAINTS)
	$(WHEEL_VENV)/bin/python -m pip install --quiet "$$(ls $(WHEEL_DIR)/proximite-*.whl)[test]" -c $(CONSTRAINTS)
	$(WHEEL_VENV)/bin/python tests/wheel_check.py --tests tests/spec --families 60

clean:
	rm -rf $(DEMO_DIR) bench-output .pytest_cache build
