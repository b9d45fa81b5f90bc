# cognito-pretoken. Every target installs what it needs first, so any of them works as the
# first command on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Locks, with hashes, valid for Python 3.11+ on every platform (this machine, and Lambda's 3.13 on
# arm64 and x86_64). requirements.lock: the runtime dependencies, what `make package` ships.
# requirements-dev.lock: those same pins plus the dev and bench extras, what `make install`
# (and the bench's 3.13 venv) installs, so what is tested is what is deployed. `make lock`
# rewrites both from pyproject.toml.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
LOCK_VENV := .venv-lock

.PHONY: install lint format test fuzz soak invoke size check-mapping explain schema bench \
	bench-reference package lock deploy attach detach audit-pool clean
NODE_STAMP := tests/e2e/node_modules/.installed

# Into venv $(1) with its python $(2): every dependency from the dev lock, hashes checked, then
# the project itself, editable, adding nothing.
define install_locked
	$(2) -m pip install --quiet --upgrade pip
	$(2) -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(2) -m pip install --quiet --no-deps -e .
endef

$(STAMP): pyproject.toml $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(call install_locked,$(VENV),$(PY))
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/cfn-lint template.yaml

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# cognito-local (npm) for the sign-in end-to-end test; skipped where Node is absent.
$(NODE_STAMP): tests/e2e/package.json tests/e2e/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); \
	else echo "npm not found: the sign-in end-to-end test will be skipped"; fi

test: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Fuzzing with 10,000 examples per property (make test runs a few hundred, deterministically).
fuzz: $(STAMP)
	FUZZ_EXAMPLES=10000 HYPOTHESIS_PROFILE=explore $(PY) -m pytest tests/unit/test_fuzz.py \
		-p no:cacheprovider --hypothesis-show-statistics -q

# 100,000 invocations in one process, cache on, more users than it holds: memory stays flat.
soak: $(STAMP)
	$(PY) -m tools.soak --invocations 100000 --users 20000 --max-entries 10000

# EVENT=events/v1-authentication.json picks another sample event.
invoke: $(STAMP)
	$(PY) -m tools.invoke $(if $(EVENT),--event $(EVENT))

# Each token's estimated size (p50, p99, max) over the seeded profiles, no server needed;
# CLAIMS_CONFIG=... picks the mapping, ID_TOKEN_MAX_BYTES=... a budget, as in Lambda.
size: $(STAMP)
	$(PY) -m tools.size

# A mapping's test cases (README "Testing a mapping"): CASES=events/policy.example.cases.toml
# (several allowed); COVERAGE=1 fails on a rule never emitted or a grant never held or failed;
# JUNIT=out.xml writes JUnit XML. Exit status 0 pass, 1 a case failed, 2 an invalid file.
CHECK_FLAGS = $(if $(filter 1 true yes,$(COVERAGE)),--coverage) $(if $(JUNIT),--junit $(JUNIT))
check-mapping: $(STAMP)
	$(PY) -m tools.check_mapping $(CASES) $(CHECK_FLAGS)

# Why each claim, scope, group or denial did or did not happen, by position and code:
# EVENT=events/policy-admin.json CLAIMS_CONFIG=events/policy.example.toml [ITEMS=items.json].
EXPLAIN_FLAGS = $(if $(CLAIMS_CONFIG),--mapping $(CLAIMS_CONFIG)) $(if $(ITEMS),--items $(ITEMS))
explain: $(STAMP)
	$(PY) -m tools.explain --event "$(EVENT)" $(EXPLAIN_FLAGS)

# Rewrites schema/claims.schema.json and schema/cases.schema.json from the Structs (committed;
# tests/unit/test_schema.py fails when they drift).
schema: $(STAMP)
	$(PY) -m tools.schema

# `make bench` runs on Lambda's Python (3.13) when this machine has one (PATH, then pyenv), in a
# venv of its own; otherwise on $(PY), and its report says so. BENCH_PYTHON=... picks another.
ifndef BENCH_PYTHON
BENCH_PYTHON := $(shell for p in $$(command -v python3.13) $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.13.*/bin/python3); do "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { echo "$$p"; break; }; done)
endif
ifneq ($(BENCH_PYTHON),)
BENCH_VENV := .venv-bench313
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_RUN_STAMP := $(BENCH_VENV)/.installed
$(BENCH_RUN_STAMP): pyproject.toml $(DEV_LOCK)
	$(BENCH_PYTHON) -m venv $(BENCH_VENV)
	$(call install_locked,$(BENCH_VENV),$(BENCH_PY))
	touch $(BENCH_RUN_STAMP)
else
BENCH_PY := $(PY)
BENCH_RUN_STAMP := $(STAMP)
endif

# Cold start, warm latency, faults, heavy load and the package size against the 5 s budget and
# issue 10's targets; BENCH_QUICK=1 for a small run (what CI runs). Results land in
# bench/results/runs/ (not tracked); `make bench-reference` also rewrites the committed
# reference, bench/results/reference.json, on purpose only.
bench: $(BENCH_RUN_STAMP)
	$(BENCH_PY) -m bench

bench-reference: $(BENCH_RUN_STAMP)
	BENCH_SAVE_REFERENCE=1 $(BENCH_PY) -m bench

# Deployment zips for arm64 and x86_64 (Python 3.13, bytecode compiled), in dist/.
# The runtime dependencies come from the lock, hashes checked, nothing resolved.
package: $(STAMP)
	$(PY) -m tools.package --python 3.13

# Rewrites both locks from pyproject.toml with uv (in a venv of its own), keeping the pins that
# still fit (`make lock LOCK_ARGS=--upgrade` moves each to the newest that fits). The runtime
# lock is resolved under the dev lock's pins, so the two agree on every runtime dependency.
UV := $(LOCK_VENV)/bin/uv
UV_COMPILE := $(UV) pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock'

$(UV):
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet 'uv>=0.5,<1'

lock: $(UV)
	$(UV_COMPILE) --extra dev --extra bench --output-file $(DEV_LOCK) $(LOCK_ARGS)
	$(UV_COMPILE) --constraint $(DEV_LOCK) --output-file $(LOCK)

# Needs the AWS SAM CLI and credentials; never run in CI. See README "Deploy".
deploy: package
	sam build --template-file template.yaml
	sam deploy --guided

# Set (attach) or remove (detach) the trigger on an existing user pool, repeating every other
# setting as DescribeUserPool reports it. Shows the change; APPLY=1 applies it. Attach first runs
# the audit-pool audit against CLAIMS_CONFIG's mapping and, with APPLY=1, refuses while an app
# client can write a trusted attribute, unless ALLOW_WRITABLE=1. README "Adopt on an existing
# pool". Credentials and endpoints as boto3 finds them (AWS_ENDPOINT_URL,
# AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER), plus AWS_ENDPOINT_URL_COGNITO_IDP.
attach: $(STAMP)
	$(PY) -m tools.attach attach --pool-id "$(POOL_ID)" --function-arn "$(FUNCTION_ARN)" \
		--lambda-version "$(or $(LAMBDA_VERSION),V2_0)" --apply "$(APPLY)" \
		--claims-config "$(CLAIMS_CONFIG)" --allow-writable "$(ALLOW_WRITABLE)"

detach: $(STAMP)
	$(PY) -m tools.attach detach --pool-id "$(POOL_ID)" --apply "$(APPLY)"

# Read-only: every app client of POOL_ID whose WriteAttributes (or lack of any) lets a user write
# an attribute the CLAIMS_CONFIG mapping trusts ([request] user_attributes). Exits 1 when one
# can, 2 when the audit cannot be made. README "Claims from the event".
audit-pool: $(STAMP)
	$(PY) -m tools.audit_pool --pool-id "$(POOL_ID)" --claims-config "$(CLAIMS_CONFIG)"

clean:
	rm -rf $(VENV) $(LOCK_VENV) .venv-bench313 .mypy_cache .pytest_cache .ruff_cache .hypothesis \
		bench/results/runs dist .aws-sam tests/e2e/node_modules
