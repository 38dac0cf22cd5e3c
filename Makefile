# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-engines fuzz lint typecheck check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/apportion demo $(if $(DEMO_DIR),--dir $(DEMO_DIR),) $(if $(filter 1,$(SERVE)),--serve,)

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# every engine-facing test on Spark too, not only the parity core (tests/engines.py)
test-engines: $(STAMP)
	APPORTION_TEST_SPARK=full $(BIN)/python -m pytest -n 2 -q -m spark

# seeded mutations of every reader's fixtures (CI runs 36); MUTATIONS=n SEED=s to vary
fuzz: $(STAMP)
	APPORTION_MUTATIONS=$(or $(MUTATIONS),2000) APPORTION_MUTATION_SEED=$(or $(SEED),20261207) \
		$(BIN)/python -m pytest -n 2 -q -m mutations tests/ingest/test_mutations.py

# style, and the layers contract in pyproject.toml ([tool.importlinter])
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache demo-workspace
