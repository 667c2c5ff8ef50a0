# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make run   - set up .venv, install, run the main job on the embedded default
#   make test  - set up .venv the same way, run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tecktrack-installed
EXTRAS ?= dev,train,cluster

.PHONY: setup run test bench lint clean-results models

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
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

bench: setup
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-columns=min,mean,median,max,rounds \
		--benchmark-json=results/benchmarks.json

lint: setup
	$(VENV)/bin/ruff check tecktrack tests benchmarks

# Retrain both demo detectors exactly as shipped (about 82 min on 2 cores, the two runs side by
# side with one thread each). Move models/demo-n and models/demo-s aside first: models are never
# overwritten. Extra training images come from seeds 2-5 (seed 1 is the label-noise set, 7 the
# unseen check).
EXTRA_SEEDS := 2 3 4 5
EXTRA_TRAIN  = $(foreach s,$(EXTRA_SEEDS),--extra-train data/synth-seed$(s)/data.yaml)
TRAIN_FLAGS  = --data data/synth/data.yaml --seed 0 --repeat-threshold 0.5 --threads 1 $(EXTRA_TRAIN)

models: setup
	$(PY) -c "from tecktrack.synth import ensure_default_world; ensure_default_world()"
	for s in $(EXTRA_SEEDS); do \
		test -f data/synth-seed$$s/data.yaml || \
		$(PY) -m tecktrack synth dataset data/synth-seed$$s --images 1200 --seed $$s || exit 1; \
	done
	$(PY) -m tecktrack train --size n --epochs 18 $(TRAIN_FLAGS) & \
	$(PY) -m tecktrack train --size s --epochs 22 $(TRAIN_FLAGS); s=$$?; wait $$! && test $$s -eq 0
	$(PY) -m tecktrack check-model models/demo-n --data data/synth/data.yaml
	$(PY) -m tecktrack check-model models/demo-s --data data/synth/data.yaml
