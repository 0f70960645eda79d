"""Tenancy overhead: requests/s of a one-query JSON view with tenant resolution vs plain Django.

Two gunicorn servers with the same configuration (1 sync worker, persistent DB connection) serve
the same view (bench.views.one_query) over the same tenant table: one with the full tenant stack
(bench.settings_http: TenantResolutionMiddleware, django-tenants backend), one without tenancy
(bench.settings_plain: no resolution middleware, Django's PostgreSQL backend, search path
fixed to that tenant's schema). A separate client process (bench.loadgen) sends requests back to
back; rounds alternate between the two servers (A B, then B A, ...) so drift hits both alike.

resolution_queries_warm: database queries of a warm tenant request to a view that itself runs
none (the tenant index), counted in-process with CaptureQueriesContext.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

NAME = "tenancy_overhead"
ROOT = Path(__file__).resolve().parent.parent
PATH = "/bench/one-query/"


@contextlib.contextmanager
def _gunicorn(env: dict[str, str], settings_module: str, extra_env: dict[str, str]) -> Iterator[int]:
    from deploy.localstack import free_port, stop_process_group, wait_for_port

    port = free_port()
    child_env = {
        **os.environ,
        **env,
        **extra_env,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "LOG_LEVEL": "WARNING",  # no per-request log line in either server
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "config.wsgi:application",
        ],
        cwd=ROOT,
        env=child_env,
        start_new_session=True,
    )
    try:
        wait_for_port(port, 30, proc, f"gunicorn ({settings_module})")
        yield port
    finally:
        stop_process_group(proc, "gunicorn")


def _load(port: int, host: str, seconds: float) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", str(port), host, PATH, str(seconds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def _get(port: int, host: str) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{PATH}", headers={"Host": host})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local URL
        return response.read()


def _warm_resolution_queries(host: str) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=host)
    # The portal's sign-in page runs no query of its own for an anonymous visitor.
    assert client.get("/login/").status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/login/").status_code == 200
    return len(ctx.captured_queries)


def run(env: dict[str, str]) -> dict[str, Any]:
    from django.conf import settings
    from django_tenants.utils import schema_context

    from shared_apps.accounts.services import organization_provision
    from tenant_apps.projects.models import Project
    from tenants.services import schema_pool_refill

    rounds = int(os.environ.get("BENCH_OVERHEAD_ROUNDS", "8"))
    seconds = float(os.environ.get("BENCH_OVERHEAD_SECONDS", "3"))
    slug = f"overhead-{int(time.time())}"
    schema_pool_refill(size=1)
    tenant = organization_provision(slug=slug, name="Overhead", owner_email=f"owner@{slug}.test")
    with schema_context(tenant.schema_name):
        Project.objects.bulk_create([Project(name=f"Project {i}") for i in range(10)])
    host = f"{slug}.{settings.TENANT_BASE_DOMAIN}"

    queries_warm = _warm_resolution_queries(host)

    with (
        _gunicorn(env, "bench.settings_http", {}) as tenant_port,
        _gunicorn(env, "bench.settings_plain", {"BENCH_SCHEMA": tenant.schema_name}) as plain_port,
    ):
        tenant_body, plain_body = _get(tenant_port, host), _get(plain_port, "localhost")
        assert tenant_body == plain_body, (tenant_body, plain_body)
        servers = {"tenant": (tenant_port, host), "plain": (plain_port, "localhost")}
        for port, h in servers.values():
            _load(port, h, 2.0)  # warm-up
        rates: dict[str, list[float]] = {"tenant": [], "plain": []}
        errors = 0
        for i in range(rounds):
            order = ["tenant", "plain"] if i % 2 == 0 else ["plain", "tenant"]
            for name in order:
                port, h = servers[name]
                measured = _load(port, h, seconds)
                errors += int(measured["errors"])
                rates[name].append(measured["ok"] / measured["seconds"])
    per_round = [t / p for t, p in zip(rates["tenant"], rates["plain"], strict=True)]
    return {
        "tenant_rps": round(statistics.median(rates["tenant"]), 1),
        "plain_rps": round(statistics.median(rates["plain"]), 1),
        "throughput_ratio": round(statistics.median(rates["tenant"]) / statistics.median(rates["plain"]), 3),
        "throughput_ratio_rounds": [round(r, 3) for r in per_round],
        "rounds": rounds,
        "seconds_per_round": seconds,
        "errors": errors,
        "resolution_queries_warm": queries_warm,
        "server": "gunicorn 1 sync worker each, CONN_MAX_AGE=60; client: http.client in a separate process",
        "goal_throughput_ratio": 0.97,
        "goal_resolution_queries_warm": 0,
    }
