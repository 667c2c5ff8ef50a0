# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make run   - set up .venv (package + extra `lab`: JupyterLab, ipywidgets), run the main job
#   make test  - add the test extras (EXTRAS) to the same .venv, run the whole test suite
# make lab starts JupyterLab on notebooks/; make test-browser drives it with Chromium.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# what `make run` installs: no torch, no test oracles
RUN_EXTRAS  ?= lab
RUN_STAMP   := $(VENV)/.tecktrack-run
# what `make test` adds on top (test oracles, torch for the training tests, ...)
EXTRAS ?= dev,train,cluster
STAMP  := $(VENV)/.tecktrack-installed
BROWSER_STAMP := $(VENV)/.tecktrack-browser
CHROMIUM ?= /usr/bin/chromium
LAB_PORT ?= 8888

.PHONY: setup setup-test run test test-browser lab bench lint clean-results models

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e ".[$(RUN_EXTRAS)]"
	@touch $(RUN_STAMP)

# peers used as test oracles that pin the GUI opencv-python: installed without their deps
ORACLES := requirements/oracles-nodeps.txt

$(STAMP): pyproject.toml $(ORACLES) | $(RUN_STAMP)
	$(PY) -m pip install -q -e ".[$(RUN_EXTRAS),$(EXTRAS)]"
	$(PY) -m pip install -q --no-deps -r $(ORACLES)
	@touch $(STAMP)

setup: $(RUN_STAMP)

setup-test: $(STAMP)

run: setup
	$(PY) -m tecktrack run

# JupyterLab on notebooks/, localhost only, a fresh random token; prints the URL to open
lab: setup
	$(PY) -m tecktrack lab --port $(LAB_PORT)

test: setup-test
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

# Real-browser tests (tests/browser): Debian's Chromium (Playwright downloads no browser here)
$(BROWSER_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install -q -e ".[$(RUN_EXTRAS),$(EXTRAS),browser]"
	@touch $(BROWSER_STAMP)

test-browser: $(BROWSER_STAMP)
	@test -x $(CHROMIUM) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
		echo "Chromium missing and not installable here: the browser tests will skip"
	TECKTRACK_BROWSER_TESTS=1 TECKTRACK_CHROMIUM=$(CHROMIUM) $(PY) -m pytest tests/browser -p no:cacheprovider

# Every benchmark, then one screen: each goal of benchmarks/goals.py, measured, met or not, and
# the load average (also results/bench-summary.json). The real Darknet rows need ../shared/real.
REAL_DATA ?= $(or $(TECKTRACK_REAL_DATA),$(wildcard ../shared/real))
bench: setup-test
	@mkdir -p results
	$(if $(REAL_DATA),TECKTRACK_REAL_DATA=$(abspath $(REAL_DATA))) $(PY) -m pytest benchmarks \
		--benchmark-only --benchmark-columns=min,mean,median,max,rounds \
		--benchmark-json=results/benchmarks.json -p no:cacheprovider

lint: setup-test
	$(VENV)/bin/ruff check tecktrack tests benchmarks

# Retrain both demo detectors exactly as shipped (about 82 min on 2 cores, the two runs side by
# side with one thread each). Move models/demo-n and models/demo-s aside first: models are never
# overwritten. Extra training images come from seeds 2-5 (seed 1 is the label-noise set, 7 the
# unseen check).
EXTRA_SEEDS := 2 3 4 5
EXTRA_TRAIN  = $(foreach s,$(EXTRA_SEEDS),--extra-train data/synth-seed$(s)/data.yaml)
TRAIN_FLAGS  = --data data/synth/data.yaml --seed 0 --repeat-threshold 0.5 --threads 1 $(EXTRA_TRAIN)

models: setup-test
	$(PY) -c "from tecktrack.synth import ensure_default_world; ensure_default_world()"
	for s in $(EXTRA_SEEDS); do \
		test -f data/synth-seed$$s/data.yaml || \
		$(PY) -m tecktrack synth dataset data/synth-seed$$s --images 1200 --seed $$s || exit 1; \
	done
	$(PY) -m tecktrack train --size n --epochs 18 $(TRAIN_FLAGS) & \
	$(PY) -m tecktrack train --size s --epochs 22 $(TRAIN_FLAGS); s=$$?; wait $$! && test $$s -eq 0
	$(PY) -m tecktrack check-model models/demo-n --data data/synth/data.yaml
	$(PY) -m tecktrack check-model models/demo-s --data data/synth/data.yaml
