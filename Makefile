# cognito-pretoken. Every target installs what it needs first, so any of them works as the
# first command on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: install lint format test fuzz soak invoke bench package deploy attach detach clean
NODE_STAMP := tests/e2e/node_modules/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(BENCH_STAMP)  # mypy reads bench/ too, which imports the bench extra
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

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Cold start, warm latency, faults and heavy load against the 5 s budget; BENCH_QUICK=1 for a
# small run (what CI runs). Results land in bench/results/.
bench: $(BENCH_STAMP)
	$(PY) -m bench

# Deployment zips for arm64 and x86_64 (Python 3.13, bytecode compiled), in dist/.
package: $(STAMP)
	$(PY) -m tools.package --python 3.13

# Needs the AWS SAM CLI and credentials; never run in CI. See README "Deploy".
deploy: package
	sam build --template-file template.yaml
	sam deploy --guided

# Set (attach) or remove (detach) the trigger on an existing user pool, repeating every other
# setting as DescribeUserPool reports it. Shows the change; APPLY=1 applies it. README "Adopt on
# an existing pool". Credentials and endpoints as boto3 finds them (AWS_ENDPOINT_URL,
# AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER), plus AWS_ENDPOINT_URL_COGNITO_IDP.
attach: $(STAMP)
	$(PY) -m tools.attach attach --pool-id "$(POOL_ID)" --function-arn "$(FUNCTION_ARN)" \
		--lambda-version "$(or $(LAMBDA_VERSION),V2_0)" --apply "$(APPLY)"

detach: $(STAMP)
	$(PY) -m tools.attach detach --pool-id "$(POOL_ID)" --apply "$(APPLY)"

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis bench/results/bench-*.json \
		dist .aws-sam tests/e2e/node_modules
