# Tenantry: `make run` starts the whole product, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install clean screenshots

$(STAMP): requirements/base.txt requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/base.txt -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m deploy.localstack run

test: $(STAMP)
	$(PY) -m deploy.localstack test -- $(PYTEST_ARGS)

# Portal screenshots for README.md (docs/img/*.png), taken by the browser tests.
screenshots: $(STAMP)
	PORTAL_SCREENSHOTS=1 $(PY) -m deploy.localstack test -- tests/browser -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/hadolint deploy/Dockerfile
	$(VENV)/bin/kubernetes-validate --strict --quiet deploy/k8s/configmap.yaml deploy/k8s/secret.template.yaml \
		deploy/k8s/web.yaml deploy/k8s/worker.yaml deploy/k8s/beat.yaml deploy/k8s/migrations-job.yaml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml

bench: $(STAMP)
	$(PY) -m bench.run $(BENCH)

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
