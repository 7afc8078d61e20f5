# The README's commands. `make plan` and `make test` create .venv from the pinned requirements when needed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: plan plan-diff test lint bench docs clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

## plan: synthesize every stack offline (mock engine, no cloud) and write plan/<stack>.json
plan: $(STAMP)
	$(PY) -m offline.plan $(ARGS)

## plan-diff: plan a base ref and the working tree offline, and say what changed per stack
##   make plan-diff ARGS="--base-ref origin/main"
plan-diff: $(STAMP)
	$(PY) -m offline.plan_diff $(ARGS)

## test: lint, then the test suite under Pulumi mocks
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

## bench: the offline plan's cost per declared resource against the SDK's own floor
bench: $(STAMP)
	$(PY) -m bench.plan_cost $(ARGS)

## docs: regenerate docs/configuration.md from Pulumi.yaml and fleet/config_schema.py's SECRET_KEYS
docs: $(STAMP)
	$(PY) -m offline.config_docs

clean:
	rm -rf $(VENV) plan .pytest_cache .ruff_cache
