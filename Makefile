# Tenantry: `make run` starts the whole product, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-pgbouncer test-faults lint bench install clean screenshots

$(STAMP): requirements/base.txt requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing dependencies into $(VENV) (the first run takes a few minutes)"
	$(PY) -m pip install --disable-pip-version-check --progress-bar on --require-hashes \
		-r requirements/base.txt -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m deploy.localstack run

test: $(STAMP)
	$(PY) -m deploy.localstack test -- $(PYTEST_ARGS)

# Portal screenshots for README.md (docs/img/*.png), taken by the browser tests.
screenshots: $(STAMP)
	PORTAL_SCREENSHOTS=1 $(PY) -m deploy.localstack test -- tests/browser -q

# The tenancy, identity, API, portal, billing and webhook suites again, every connection through
# Debian's pgbouncer in transaction mode (TENANT_SEARCH_PATH_MODE=transaction). --reuse-db: the
# throwaway test database is not dropped while pgbouncer still pools connections to it.
test-pgbouncer: $(STAMP)
	$(PY) -m deploy.localstack test --via-pgbouncer -- -q --reuse-db tests/identity tests/tenancy tests/api tests/portal \
		tests/billing tests/webhooks $(PYTEST_ARGS)

# Faults under load (tests/faults): its own PostgreSQL, Valkey, gunicorn, worker, beat and Stripe stand-in
# on free ports; Valkey, the worker and PostgreSQL are stopped and restarted while signed events stream
# in. Its own servers, so not under deploy.localstack test, and no conftest above tests/faults.
test-faults: $(STAMP)
	$(PY) -m pytest --confcutdir=tests/faults -m faults -v tests/faults $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/hadolint deploy/Dockerfile
	$(VENV)/bin/kubernetes-validate --strict --quiet deploy/k8s/configmap.yaml deploy/k8s/secret.template.yaml \
		deploy/k8s/web.yaml deploy/k8s/worker.yaml deploy/k8s/beat.yaml deploy/k8s/migrations-job.yaml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml

bench: $(STAMP)
	$(PY) -m bench.run $(BENCH)

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
