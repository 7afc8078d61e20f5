# The README's commands. `make plan` and `make test` create .venv from the pinned requirements when needed:
# the plan installs only what the plan needs (requirements-plan.txt), the tests add their tools on top
# (requirements-dev.txt), so a first `make plan` does not wait for Helm's SDK or the schema validators.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
PLAN_STAMP := $(VENV)/.plan-installed
TEST_STAMP := $(VENV)/.test-installed


.PHONY: plan plan-diff fleets prices test lint bench docs chart-docs smoke clean

$(PLAN_STAMP): requirements.txt requirements-plan.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) -r requirements-plan.txt
	@touch $@

$(TEST_STAMP): $(PLAN_STAMP) requirements-dev.txt
	$(PIP) -r requirements-dev.txt
	@touch $@

## plan: synthesize every stack offline (mock engine, no cloud) and write plan/<stack>.json
##   make plan FLEET=mvp   plans an example fleet's stacks (fleets/mvp/), router included, into plan/mvp/
plan: $(PLAN_STAMP)
	$(PY) -m offline.plan $(if $(FLEET),--fleet $(FLEET)) $(ARGS)

## fleets: plan every fleet (the default one and each under fleets/) and rewrite README.md's fleet table
fleets: $(PLAN_STAMP)
	$(PY) -m offline.fleets $(ARGS)

## plan-diff: plan a base ref and the working tree offline, and say what changed per stack
##   make plan-diff ARGS="--base-ref origin/main"
plan-diff: $(PLAN_STAMP)
	$(PY) -m offline.plan_diff $(ARGS)

## prices: ask Alibaba's pricing API (needs ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET) for the prices the region stacks
##   need and write prices/api-<date>.yaml; then: make plan ARGS="--prices prices/api-<date>.yaml"
##   make prices ARGS="--site china"   (the account's site: china or international; its currency follows)
prices: $(TEST_STAMP)
	$(PY) -m offline.prices_fetch $(ARGS)

## test: lint, then the test suite under Pulumi mocks, on every core (pytest-xdist; ARGS="-n 0" runs it in one process)
test: $(TEST_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -n auto $(ARGS)

lint: $(TEST_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## smoke: after `pulumi up`, ask every provider of a deployed router stack once, and say what to check
##   make smoke STACK=router   (needs the Pulumi CLI and the credentials; ARGS="--secrets-from-stack")
smoke: $(PLAN_STAMP)
	@test -n "$(STACK)" || { echo "usage: make smoke STACK=<router stack>"; exit 2; }
	$(PY) -m probe.smoke --stack $(STACK) $(ARGS)

## bench: the offline plan's cost per declared resource against the SDK's own floor
bench: $(PLAN_STAMP)
	$(PY) -m bench.plan_cost $(ARGS)

## docs: regenerate docs/configuration.md from Pulumi.yaml and fleet/config_schema.py's SECRET_KEYS, the model
##   tables in docs/models.md from fleet/catalog.py, and the router contract in docs/router-config.md from schemas/
docs: $(PLAN_STAMP)
	$(PY) -m offline.config_docs
	$(PY) -m offline.model_docs
	$(PY) -m offline.contract_docs

## chart-docs: regenerate the values table in charts/inference-server/README.md from values.yaml's @param comments
chart-docs:
	npm ci --prefix tools/chart-docs --silent
	npm run --prefix tools/chart-docs --silent chart-docs

clean:
	rm -rf $(VENV) plan .pytest_cache .ruff_cache
