# tritonkit developer tasks. `make demo` and `make test` work on a fresh machine: they create .venv,
# install everything (torch pinned to the CPU build 2.13.0 that pip finds locally), then run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.tritonkit-installed

.PHONY: setup demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet $(TORCH_PIN)
	$(BIN)/pip install --quiet -e '.[all,dev]' $(TORCH_PIN)
	# perf_analyzer for `tritonkit bench` (from the tritonclient 2.51.0 wheel; see the script).
	bash scripts/get-perf-analyzer.sh $(VENV)
	touch $@

setup: $(STAMP)

## Run the main job: init, export, validate, serve (local), infer, test, stop.
demo: setup
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh

## Set up and pass the tests (real Triton server; Docker tests start their own dockerd).
test: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -q -p no:cacheprovider

test-fast: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -q -m "not server and not docker"

lint: setup
	$(BIN)/ruff check src tests benchmarks templates/runtimes
	$(BIN)/ruff format --check src tests benchmarks templates/runtimes
	$(BIN)/mypy

## Print every benchmark figure as a ratio against its baseline, measured in the same run.
bench: setup
	@set -e; for b in benchmarks/bench_*.py; do \
		echo "== $$b"; PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache
