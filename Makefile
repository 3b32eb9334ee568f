# readout — `make` or `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CONFIG ?= experiments.toml
OUTPUT ?= reports
JOBS ?= 1
# `make test` runs the tests in this many processes (pytest-xdist; one file per process at a
# time, so a file's shared fixture runs once). `make test TEST_WORKERS=0` runs them in one.
TEST_WORKERS ?= 2
XDIST = $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder,)
# `make report` reads the demo warehouse as of this day (UTC), so the demo is the same every
# run; `make report AS_OF=` reads it as of now.
AS_OF ?= 2026-11-30

# The compile caches (PyTensor's, numba's, matplotlib's) live in one folder per user, shared
# by every project and folder: readout.caches chooses it ($$READOUT_CACHE_DIR, else
# ~/.cache/readout) in every entry point (the command line, the tests, the bench). Python may
# cache bytecode (some shells forbid it, which makes every import compile from source).
unexport PYTHONDONTWRITEBYTECODE
export UV_CACHE_DIR ?= $(CURDIR)/.cache/uv

# uv: a working one on PATH, else installed from PyPI into .tools/.
UV_ON_PATH := $(shell uv --version >/dev/null 2>&1 && command -v uv)
UV := $(if $(UV_ON_PATH),$(UV_ON_PATH),$(CURDIR)/.tools/bin/uv)
PY := .venv/bin/python
STAMP := .cache/stamps

.PHONY: help report warm run render validate plan validate-pooling email email-dry-run publish test test-all faults bench bench-shapes bench-programme lint format schema snapshots data setup system-deps clean

help: ## List every target with what it does
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[1m%-17s\033[0m %s\n", $$1, $$2}'

report: setup data warm ## Install what is missing, generate demo data, fit every experiment as of AS_OF (2026-11-30), write reports/
	.venv/bin/readout run --config $(CONFIG) --output $(OUTPUT) -j $(JOBS) $(if $(AS_OF),--as-of $(AS_OF),)

warm: setup ## Compile the mixture's NUTS models once into the per-user cache (~/.cache/readout)
	$(PY) -m readout.warm

render: setup ## Re-render every report from its bundle (no refit)
	.venv/bin/readout render --config $(CONFIG) --output $(OUTPUT)

validate: setup data ## Check experiments.toml and the data it names; fit nothing
	.venv/bin/readout validate --config $(CONFIG)

plan: setup data ## How many days experiment NAME needs for an 80/90% chance of a clear answer (MIN_EFFECT, UNTIL)
	@test -n "$(NAME)" || { echo "usage: make plan NAME=checkout-redesign [MIN_EFFECT=0.05] [UNTIL=2026-11-28]"; exit 2; }
	.venv/bin/readout plan --config $(CONFIG) --output $(OUTPUT) "$(NAME)" $(if $(MIN_EFFECT),--min-effect $(MIN_EFFECT),) $(if $(UNTIL),--until $(UNTIL),)

# `make test` runs every test but the slow (MCMC, whole-pipeline) and engine (PostgreSQL, Spark,
# DuckDB's cancellation) ones, and a few of those: one of each kind, marked `spot`.
QUICK = -m "not slow and not engine or spot"

test: setup data ## Run the tests, and one of each kind of slow and engine test (real sampling, a whole run, PostgreSQL, Spark): about 5 minutes on 2 cores
	$(PY) -m pytest $(XDIST) $(QUICK)

test-all: setup data ## Run every test, the slow and engine ones included (what CI runs: about 12 minutes on 2 cores)
	$(PY) -m pytest $(XDIST)

faults: setup data ## Run the bad-input, hostile-input, crash and delivery-fault tests alone; print how many held
	$(PY) -m pytest -m faults -q

email: setup ## Email each new readout's PDF summary, at most once (SMTP settings from READOUT_SMTP_*)
	.venv/bin/readout email --config $(CONFIG) --output $(OUTPUT)

email-dry-run: setup ## Write the emails to reports/outbox/ without sending
	.venv/bin/readout email --config $(CONFIG) --output $(OUTPUT) --dry-run

publish: setup ## Copy the site to $(DEST), a folder of its own (new, empty or published before), or host:path via rsync
	@test -n "$(DEST)" || { echo "usage: make publish DEST=/srv/readouts (or host:path)"; exit 2; }
	.venv/bin/readout publish --config $(CONFIG) --output $(OUTPUT) "$(DEST)"

validate-pooling: setup data ## Fit the 500-creator demo; readout recovery prints MSE/coverage/width against its ground truth
	.venv/bin/readout run --config $(CONFIG) --output $(OUTPUT) --only creator-pricing
	.venv/bin/readout recovery --config $(CONFIG) --output $(OUTPUT) creator-pricing --truth data/creators_truth.csv --unit-column creator

bench: setup data ## Readout beside PyMC's default pm.sample(), the slowest of many data shapes, beside the bare warehouse query, the sequential rule's calibration, a programme run of 60 and 200 experiments (QUICK=1: smaller; MILLION=1: 1M units too; READOUT_BENCH_500=1: 500 experiments too)
	$(PY) bench/run.py $(if $(QUICK),--quick,) $(if $(MILLION),--million,)

bench-shapes: setup data ## Only the many-shapes table of make bench: the slowest shape per workload (QUICK=1, MILLION=1)
	$(PY) bench/shapes.py $(if $(QUICK),--quick,) $(if $(MILLION),--million,)

bench-programme: setup data ## Only the programme table of make bench: readout run -j 2 over 60 and 200 generated warehouse experiments (READOUT_BENCH_500=1: 500 too)
	$(PY) bench/programme_run.py

lint: setup ## ruff check and ruff format --check
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: setup ## Format the code with ruff
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

schema: setup ## Write docs/bundle.schema.json, generated from the analyses' typed results (pydantic models)
	.venv/bin/readout schema --write

snapshots: setup ## Update the wording snapshot tests after a deliberate change
	$(PY) -m pytest tests/readout/test_wording.py --snapshot-update

DATA_FILES := data/signup_conversion.csv data/income_spend.csv data/aa_test.csv data/broken_split.csv \
  data/creators.csv data/creators_truth.csv data/eight_schools.csv data/three_groups.csv \
  data/topic_share.csv data/topic_share_new.csv data/programme_history.csv data/demo.duckdb

data: setup $(DATA_FILES) ## Generate the demo data sets in data/ (fixed seed), with the programme's 38 finished experiments

$(DATA_FILES) &: data/generate.py data/warehouse.py .venv/.synced
	$(PY) data/generate.py

setup: .venv/.synced $(STAMP)/system ## Install the Python environment and system packages

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra postgres --extra spark --compile-bytecode
	@touch $@

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

# WeasyPrint needs Pango and HarfBuzz's subsetter; poppler gives pdftoppm/pdftotext;
# Chromium checks the published site as a reader would; pandoc checks the Quarto files;
# PostgreSQL (server and libpq) and Java 17 (for Spark) are the engines the tests read from.
$(STAMP)/system: | $(STAMP)
	@if ! ldconfig -p | grep -q 'libpango-1.0.so' || ! ldconfig -p | grep -q 'libharfbuzz-subset.so' \
	    || ! ldconfig -p | grep -q 'libpq.so.5' || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    || ! command -v pdftoppm >/dev/null || ! command -v chromium >/dev/null \
	    || ! command -v pandoc >/dev/null || ! command -v rsync >/dev/null \
	    || ! command -v java >/dev/null; then \
	  echo "Installing system packages (Pango, HarfBuzz subset, poppler-utils, chromium, pandoc, rsync, postgresql, Java 17)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils fonts-dejavu-core \
	    chromium pandoc rsync postgresql libpq5 openjdk-17-jre-headless; \
	fi
	@touch $@

$(STAMP):
	@mkdir -p $@

clean: ## Remove generated reports, data, bench files and project caches (keeps .venv and ~/.cache/readout)
	find $(OUTPUT) -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf data/*.csv data/*.duckdb bench-results .pytest_cache .hypothesis \
	  .cache/pytensor .cache/numba .cache/matplotlib .cache/logs
