# The two commands of the README: `make serve` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime pyproject.toml
	$(PIP) install --quiet -e '.[test]'
	touch $@

.PHONY: serve test
serve: $(VENV)/.runtime  ## set up, then serve ./drawbridge-home on http://127.0.0.1:8080/
	$(VENV)/bin/drawbridge serve

test: $(VENV)/.test  ## set up, then run the whole test suite
	$(VENV)/bin/python -m pytest
