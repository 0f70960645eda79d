"""The production configuration, served by gunicorn with deploy/gunicorn.conf.py, end to end:
probes over plain HTTP by IP, HTTPS redirect, a tenant page behind the proxy header, JSON logs that
carry the request id, static files from WhiteNoise."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from deploy.localstack import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
# Makes pytest-django create the test database (with the session tenants) that gunicorn serves.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, tmp_path_factory) -> Iterator[dict]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    db = settings.DATABASES["default"]
    port = free_port()
    static_root = tmp_path_factory.mktemp("static")
    log_path = tmp_path_factory.mktemp("gunicorn") / "stderr.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "DJANGO_ALLOWED_HOSTS": ".localhost,localhost",
            "DJANGO_STATIC_ROOT": str(static_root),
            "TENANT_SEARCH_PATH_MODE": "transaction",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_MAX_REQUESTS": "20",
            "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        }
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "config.wsgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            try:
                wait_for_port(port, 30, proc, "gunicorn")
            except (RuntimeError, TimeoutError) as exc:
                pytest.fail(f"{exc}: {log_path.read_text()}")
            yield {"port": port, "log": log_path}
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_probes_answer_over_plain_http_by_ip(gunicorn) -> None:
    status, _, body = get(gunicorn["port"], "/healthz", Host="10.0.0.12:8000")
    assert status == 200, body
    checks = json.loads(body)["checks"]
    assert checks["database"]["ok"]
    assert checks["broker"]["ok"]
    assert "worker" in checks
    status, _, body = get(gunicorn["port"], "/healthz?live=1", Host="10.0.0.12:8000")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_plain_http_is_redirected_to_https(gunicorn) -> None:
    status, headers, _ = get(gunicorn["port"], "/", Host="localhost")
    assert status == 301
    assert headers["Location"].startswith("https://localhost/")


def test_tenant_request_behind_the_proxy_logs_json_with_its_request_id(gunicorn) -> None:
    request_id = "smoke-" + secrets.token_hex(8)
    status, headers, body = get(
        gunicorn["port"],
        "/login/",
        Host="alpha.localhost",
        **{"X-Forwarded-Proto": "https", "X-Request-ID": request_id},
    )
    assert status == 200, body
    assert b"Sign in to Alpha" in body
    # The portal's CSRF cookie is Secure behind TLS in production.
    assert "Secure" in headers["Set-Cookie"]
    assert "csrftoken=" in headers["Set-Cookie"]
    assert headers["X-Request-ID"] == request_id
    assert "max-age=31536000" in headers["Strict-Transport-Security"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        records = []
        for line in gunicorn["log"].read_text().splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        mine = [r for r in records if r.get("request_id") == request_id]
        if mine:
            break
        time.sleep(0.1)
    assert mine, gunicorn["log"].read_text()[-2000:]
    assert mine[0]["tenant"] == "alpha"
    assert mine[0]["status"] == 200
    assert mine[0]["logger"] == "tenantry.request"


def test_static_files_are_served(gunicorn) -> None:
    status, headers, _ = get(
        gunicorn["port"], "/static/admin/css/base.css", Host="localhost", **{"X-Forwarded-Proto": "https"}
    )
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
