"""Tenancy overhead: requests/s of a one-query JSON view with tenant resolution vs plain Django.

Two gunicorn servers with the same configuration (1 sync worker, persistent DB connection) serve
the same view (bench.views.one_query) over the same tenant table: one with the full tenant stack
(bench.settings_http: TenantResolutionMiddleware, django-tenants backend), one without tenancy
(bench.settings_plain: no resolution middleware, Django's PostgreSQL backend, search path
fixed to that tenant's schema). A separate client process (bench.loadgen) sends requests back to
back; rounds alternate between the two servers (A B, then B A, ...) so drift hits both alike.

resolution_queries_warm: database queries of a warm tenant request to a view that itself runs
none (the tenant index), counted in-process with CaptureQueriesContext.

CPU, not wall clock: a requests/s ratio swings with whatever else the shared machine runs (0.79 to
1.45 between rounds). Each server's worker CPU time (/proc/<pid>/stat utime + stime) and its
PostgreSQL backend's are read before and after every round, so `*_cpu_us_per_request` is CPU
seconds over requests answered, summed over all interleaved rounds; `cpu_overhead_pct` compares the
two workers (goal: at most 3 % extra for the tenant stack).
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

from bench._cpu import proc_cpu_or_none, proc_cpu_s, worker_pid

NAME = "tenancy_overhead"
ROOT = Path(__file__).resolve().parent.parent
PATH = "/bench/one-query/"
BACKEND_PID_PATH = "/bench/backend-pid/"


@contextlib.contextmanager
def _gunicorn(env: dict[str, str], settings_module: str, extra_env: dict[str, str]) -> Iterator[tuple[int, int]]:
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
        yield port, worker_pid(proc.pid)
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


def _backend_pid(port: int, host: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{BACKEND_PID_PATH}", headers={"Host": host})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local URL
        return int(json.loads(response.read())["pg_backend_pid"])


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

    rounds = int(os.environ.get("BENCH_OVERHEAD_ROUNDS", "12"))
    seconds = float(os.environ.get("BENCH_OVERHEAD_SECONDS", "3"))
    slug = f"overhead-{int(time.time())}"
    schema_pool_refill(size=1)
    tenant = organization_provision(slug=slug, name="Overhead", owner_email=f"owner@{slug}.test")
    with schema_context(tenant.schema_name):
        Project.objects.bulk_create([Project(name=f"Project {i}") for i in range(10)])
    host = f"{slug}.{settings.TENANT_BASE_DOMAIN}"

    queries_warm = _warm_resolution_queries(host)

    with (
        _gunicorn(env, "bench.settings_http", {}) as (tenant_port, tenant_worker),
        _gunicorn(env, "bench.settings_plain", {"BENCH_SCHEMA": tenant.schema_name}) as (
            plain_port,
            plain_worker,
        ),
    ):
        tenant_body, plain_body = _get(tenant_port, host), _get(plain_port, "localhost")
        assert tenant_body == plain_body, (tenant_body, plain_body)
        servers = {"tenant": (tenant_port, host), "plain": (plain_port, "localhost")}
        workers = {"tenant": tenant_worker, "plain": plain_worker}
        for port, h in servers.values():
            _load(port, h, 2.0)  # warm-up
        rates: dict[str, list[float]] = {"tenant": [], "plain": []}
        answered = {"tenant": 0, "plain": 0}
        cpu_s = {"tenant": 0.0, "plain": 0.0}
        pg_cpu_s = {"tenant": 0.0, "plain": 0.0}
        pg_answered = {"tenant": 0, "plain": 0}
        cpu_rounds: dict[str, list[float]] = {"tenant": [], "plain": []}
        errors = 0
        for i in range(rounds):
            order = ["tenant", "plain"] if i % 2 == 0 else ["plain", "tenant"]
            for name in order:
                port, h = servers[name]
                # The backend pid is asked every round: CONN_MAX_AGE (60 s) replaces the connection.
                backend = _backend_pid(port, h)
                before, pg_before = proc_cpu_s(workers[name]), proc_cpu_or_none(backend)
                measured = _load(port, h, seconds)
                used, pg_after = proc_cpu_s(workers[name]) - before, proc_cpu_or_none(backend)
                n = int(measured["ok"]) + int(measured["errors"])
                errors += int(measured["errors"])
                rates[name].append(measured["ok"] / measured["seconds"])
                answered[name] += n
                cpu_s[name] += used
                if pg_before is not None and pg_after is not None:  # same backend all round long
                    pg_cpu_s[name] += pg_after - pg_before
                    pg_answered[name] += n
                cpu_rounds[name].append(used / max(1, n) * 1e6)
    per_round = [t / p for t, p in zip(rates["tenant"], rates["plain"], strict=True)]
    cpu_us = {name: cpu_s[name] / answered[name] * 1e6 for name in cpu_s}
    pg_us = {name: pg_cpu_s[name] / pg_answered[name] * 1e6 if pg_answered[name] else None for name in pg_cpu_s}
    cpu_ratio_rounds = [t / p for t, p in zip(cpu_rounds["tenant"], cpu_rounds["plain"], strict=True)]
    return {
        "tenant_cpu_us_per_request": round(cpu_us["tenant"], 1),
        "plain_cpu_us_per_request": round(cpu_us["plain"], 1),
        "cpu_overhead_pct": round((cpu_us["tenant"] / cpu_us["plain"] - 1) * 100, 2),
        "cpu_overhead_pct_rounds": [round((r - 1) * 100, 1) for r in cpu_ratio_rounds],
        "cpu_overhead_pct_rounds_median": round((statistics.median(cpu_ratio_rounds) - 1) * 100, 2),
        "tenant_pg_backend_cpu_us_per_request": None if pg_us["tenant"] is None else round(pg_us["tenant"], 1),
        "plain_pg_backend_cpu_us_per_request": None if pg_us["plain"] is None else round(pg_us["plain"], 1),
        "requests": answered,
        "tenant_rps": round(statistics.median(rates["tenant"]), 1),
        "plain_rps": round(statistics.median(rates["plain"]), 1),
        "throughput_ratio": round(statistics.median(rates["tenant"]) / statistics.median(rates["plain"]), 3),
        "throughput_ratio_rounds": [round(r, 3) for r in per_round],
        "rounds": rounds,
        "seconds_per_round": seconds,
        "errors": errors,
        "resolution_queries_warm": queries_warm,
        "server": "gunicorn 1 sync worker each, CONN_MAX_AGE=60; client: http.client in a separate process; "
        "CPU: /proc/<pid>/stat utime+stime of each worker and of its PostgreSQL backend, per round",
        "goal_cpu_overhead_pct": 3,
        "goal_throughput_ratio": 0.97,
        "goal_resolution_queries_warm": 0,
    }
