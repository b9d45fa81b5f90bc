# cognito-pretoken. Every target installs what it needs first, so any of them works as the
# first command on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: install lint format test invoke bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# EVENT=events/v1-authentication.json picks another sample event.
invoke: $(STAMP)
	$(PY) -m tests.support.invoke $(if $(EVENT),--event $(EVENT))

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Cold start, warm latency, faults and heavy load against the 5 s budget; BENCH_QUICK=1 for a
# small run (what CI runs). Results land in bench/results/.
bench: $(BENCH_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis bench/results/bench-*.json
