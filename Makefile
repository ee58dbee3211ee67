# The two commands README.md promises: `make demo` and `make test`.
# Each creates .venv with the Python found below and installs what it needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint venv clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "linkcrawl needs Python >= 3.11; set PYTHON=python3.11 (or newer)")'
	@$(PYTHON) -m venv $(VENV) || { echo "python venv failed: on Debian/Ubuntu run 'apt-get install python3-venv'"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(VENV)/.installed $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/linkcrawl demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# pytest exits 5 when it collects no test: that is not a failure of the suite.
test: lint
	$(BIN)/python -m pytest; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
