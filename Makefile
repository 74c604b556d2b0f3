# The two commands a fresh machine needs: `make demo` and `make test`.
# Each creates .venv and installs the project with its pinned dependencies first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo demo-script test lint install messages

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
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

test: lint
	$(BIN)/python -m pytest -q

# Re-extract every translatable sentence into the template and merge it into each language's
# catalog. New sentences arrive untranslated (never guessed: no fuzzy matching); see
# docs/translating.md. The catalogs are compiled in memory at run time, so no .mo files.
LOCALE_DIR := checkins/locale
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg --no-default-keywords -k _ -k N_ -k ngettext:1,2 \
		--add-comments=TRANSLATORS: --sort-by-file --no-wrap --project=buddycheck --copyright-holder="buddycheck contributors" \
		--msgid-bugs-address="" -o $(LOCALE_DIR)/buddycheck.pot bot checkins storage
	@for po in $(LOCALE_DIR)/*/LC_MESSAGES/buddycheck.po; do \
		[ -f "$$po" ] || continue; \
		$(BIN)/pybabel -q update --no-fuzzy-matching --no-wrap --ignore-obsolete \
			-D buddycheck -i $(LOCALE_DIR)/buddycheck.pot -o "$$po" \
			-l "$$(basename $$(dirname $$(dirname $$po)))"; \
	done
