# The two commands a fresh machine needs: `make demo` and `make test`.
# Each creates .venv and installs the project with its pinned dependencies first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo demo-script test lint install

$(BIN)/buddycheck: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/buddycheck

demo: install
	$(BIN)/buddycheck demo

demo-script: install
	$(BIN)/buddycheck demo --script

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q
