# The two commands: `make demo` runs the whole slice on DuckDB + the sandbox; `make test` runs
# the linters and the full test suite (DuckDB and a Postgres the suite starts itself).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-large clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Every demo starts from an empty workspace: the warehouse and the sandbox's Fusion (its state is
# kept in .ehrfusion/sandbox for `ehrfusion sandbox serve`) start over together.
demo: $(STAMP)
	rm -rf .ehrfusion
	$(BIN)/ehrfusion demo

# sqlfluff compiles the dbt project; these placeholders satisfy its env_var() calls.
LINT_ENV := EHRFUSION_TENANT=lint EHRFUSION_DUCKDB_PATH=$(CURDIR)/.ehrfusion/lint.duckdb \
	EHRFUSION_PHI_KEY=lint-placeholder-not-a-real-key-000000 EHRFUSION_LEDGER_ID=0 \
	EHRFUSION_LEDGER_NAME=lint EHRFUSION_JOURNAL_SOURCE=lint EHRFUSION_JOURNAL_CATEGORY=lint \
	EHRFUSION_STREAM=lint EHRFUSION_DOMAIN=lint EHRFUSION_INV_SOURCE_CODE=lint \
	EHRFUSION_ASSET_BOOK=lint EHRFUSION_FEEDER_SYSTEM=lint EHRFUSION_SOURCE_SYSTEM_OWNER=lint \
	EHRFUSION_LEGAL_EMPLOYER=lint EHRFUSION_BUSINESS_UNIT=lint \
	EHRFUSION_JOURNAL_MODEL=int_epic__journal_lines EHRFUSION_BATCH_NAME=lint \
	EHRFUSION_BATCH_DESCRIPTION=lint

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p .ehrfusion
	$(LINT_ENV) $(BIN)/sqlfluff lint dbt_project
	# The restricted surrogate map is built only in safe_harbor mode; lint it there too.
	$(LINT_ENV) EHRFUSION_PHI_MODE=safe_harbor $(BIN)/sqlfluff lint dbt_project/models/restricted

test: lint
	$(BIN)/pytest -n 2 --dist worksteal

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/incremental.py
	$(BIN)/python -m bench.cdc
	$(BIN)/python -m bench.practice_fusion_rate
	$(BIN)/python bench/simulator_import.py

# 10M journal lines, one run per side, on DuckDB; and on Postgres when BENCH_POSTGRES_DSN names
# a database the benchmark may empty (its `bench_*` schemas are dropped before the run).
# The feed is generated once (.ehrfusion/bench-10m) and read by every run.
bench-large: $(STAMP)
	[ -d .ehrfusion/bench-10m ] || $(BIN)/ehrfusion sandbox generate --seed 7 \
		--scale 10000000 --out .ehrfusion/bench-10m --json >/dev/null
	$(BIN)/python bench/run.py --scale 10000000 --repeat 1 --sandbox .ehrfusion/bench-10m
	if [ -n "$(BENCH_POSTGRES_DSN)" ]; then $(BIN)/python bench/run.py --scale 10000000 \
		--repeat 1 --sandbox .ehrfusion/bench-10m --postgres "$(BENCH_POSTGRES_DSN)"; fi

clean:
	rm -rf .ehrfusion dbt_project/target dbt_project/logs
