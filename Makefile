# sealbox: `make run` sets everything up and runs the service; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sealbox-installed
# Every extra: the tests exercise them all. Dev tools come from the `dev` dependency group.
EXTRAS := cli,ssh,settings,service,vault,postgres,redis,bcrypt

.PHONY: run demo test check lint typecheck unit coverage floors system-deps bench fuzz clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "sealbox: error: Python 3.11 or newer is needed" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]' --group dev
	@touch $@

## The main job: the HTTPS service on https://localhost:8443 (data in ./.sealbox; Ctrl-C stops it).
run: $(STAMP)
	$(BIN)/sealbox serve

## An end-to-end tour of the command line (prints a transcript).
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

## Debian packages the interop tests talk to (age, ssh-keygen, openssl, chromium, wrk).
system-deps:
	@scripts/install-system-deps.sh

## Everything CI checks: lint, format, types, the whole test suite, the floors.
test: $(STAMP) system-deps lint typecheck unit floors

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts examples
	$(BIN)/ruff format --check src tests bench scripts examples

## The library strictly (pyproject's [tool.mypy]), then the benchmarks (typed, not strict).
typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy bench

## pytest workers (pytest-xdist): three on a two-core CI machine, as a third of the time
## the tests wait on the servers and programs they start (tests/service took 384 s with
## three against 480 s with two); TEST_WORKERS=0 runs everything in one process.
## --dist worksteal hands each worker a share of the tests in order and lets an idle worker
## take tests from the end of another's share: they finish together, where whole files per
## worker left one finishing the last large file alone. Each worker has its own database
## and Redis prefix (tests/service/conftest.py), so a module's fixture may start on several.
TEST_WORKERS ?= 3
unit: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## The same suite with branch coverage (a report per module): about a fifth slower on
## Python 3.11, whose tracer runs on every line, so `make test` leaves it out.
coverage: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --cov=sealbox --cov-report=term $(PYTEST_ARGS)

## The declared dependency floors, kept true: every direct dependency at its lowest allowed
## version (uv --resolution lowest-direct) in .venv-floors, and the smoke suite run there.
floors: $(STAMP)
	scripts/floors.sh $(PYTHON)

## Side-by-side benchmarks against the anchors; writes bench/results/.
bench: $(STAMP) system-deps
	$(BIN)/python -m bench $(BENCH_ARGS)

## Fuzz the age header and armor parsers for a bounded time (FUZZ_SECONDS, default 60).
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	@mkdir -p .fuzz-corpus && cp -n tests/fuzz/corpus/* .fuzz-corpus/
	$(BIN)/python tests/fuzz/fuzz_age.py -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-timeout=10 .fuzz-corpus

clean:
	rm -rf $(VENV) .venv-floors .venv-extras-* .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov build dist
