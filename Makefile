# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make run   - set up .venv, install, run the main job on the embedded default
#   make test  - set up .venv the same way, run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tecktrack-installed
EXTRAS ?= dev,train

.PHONY: setup run test bench lint clean-results

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m tecktrack run

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-columns=min,mean,median,max,rounds \
		--benchmark-json=results/benchmarks.json

lint: setup
	$(VENV)/bin/ruff check tecktrack tests benchmarks
