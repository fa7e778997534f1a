# Flurfunk: `make run` for a node on http://127.0.0.1:8000, `make test` for the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench bench-company demo clean catalogues

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/flurfunk migrate
	$(BIN)/flurfunk serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Each test file runs whole on one of two workers: a file's module fixtures (its nodes) start once.
test: lint
	$(BIN)/pytest -n 2 --dist loadfile

bench: install
	$(BIN)/python -m bench.run

# Ten nodes, 2,000 staff, a busy hour in 10 minutes (DURATION=seconds to shorten it).
DURATION ?= 600
bench-company: install
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.run --only company --company-duration $(DURATION)

demo: install
	$(BIN)/flurfunk demo

# Extract the web app's words and merge them into the .po files (translators edit those).
LOCALES := web/ui/locale
catalogues: install
	$(BIN)/pybabel extract -F babel.cfg -k t -k N_ -k tn:1,2 --no-location --sort-output \
		--omit-header -o $(LOCALES)/messages.pot .
	set -e; for lang in de en; do \
		if [ -f $(LOCALES)/$$lang/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) -l $$lang \
				--ignore-obsolete --no-fuzzy-matching; \
		else $(BIN)/pybabel init -i $(LOCALES)/messages.pot -d $(LOCALES) -l $$lang; fi; \
	done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
