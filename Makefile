# The two set-up commands: `make demo` and `make test` each build .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-project
DEMO_FAMILIES ?= 300

# The machines are offline: no telemetry.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_LOGGING_LEVEL ?= WARNING

.PHONY: demo test bench venv clean snapshot chromium

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/proximite demo --project-dir $(DEMO_DIR) --families $(DEMO_FAMILIES)

test: $(STAMP) chromium
	$(BIN)/python -m pytest

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

bench: $(STAMP)
	$(BIN)/python tests/bench/run_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(DEMO_DIR) bench-output .pytest_cache
