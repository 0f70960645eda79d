"""Online move of an organization between two PostgreSQL clusters while a client uses it.

Setup: the runner starts a second embedded cluster (both with wal_level=logical); it is registered
here as the shard "shard2" (a fresh database, bootstrapped: public tables, copy of users). gunicorn
(2 workers x 4 threads, the project's WSGI app with the rate limit raised) serves the API with
TENANT_SHARDS pointing at it.

Large move: one organization on the control database with BENCH_MOVE_ROWS (100,000) tasks in one
project. The client is a process of its own (`python -m bench.tenant_move client`, so that it does not
share a GIL with the move), with paced threads: writers create tasks at BENCH_MOVE_WRITES (50/s, each
a new unique title, retried every 0.1 s on 503 + Retry-After until accepted), readers get the project
at BENCH_MOVE_READS (100/s), BENCH_MOVE_THREADS (25) threads each, so that one slow answer does not
lower the offered rate. Times are CLOCK_MONOTONIC, shared by both processes. After a warm-up,
`tenant_move(... target="shard2")` runs; the client goes on for a few seconds after it. Recorded:
every write's latency from first attempt to acceptance; its extra latency (latency - median latency
outside the move); reads' statuses; then, row by row, that the target holds exactly the seed rows
plus every accepted write, once each.

Small moves: BENCH_MOVE_SMALL (20) moves of an organization with 20 tasks back and forth between
the two shards, writers at 10/s and readers at 20/s (2 threads each) running throughout, same checks after all.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench._util import percentile

NAME = "tenant_move"
ORDER = 90
NEEDS_SHARDS = True
ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def _server(env: dict[str, str], extra_env: dict[str, str]) -> Iterator[int]:
    from deploy.localstack import free_port, stop_process_group, wait_for_port

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--threads",
            "8",
            "--worker-class",
            "gthread",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bench.api_list:wsgi_application()",
        ],
        cwd=ROOT,
        env={**os.environ, **env, **extra_env, "LOG_LEVEL": "WARNING"},
        start_new_session=True,
    )
    try:
        wait_for_port(port, 60, proc, "gunicorn (bench)")
        yield port
    finally:
        stop_process_group(proc, "gunicorn")


class Load(threading.Thread):
    def __init__(self, port: int, host: str, token: str, path: str, *, rate: float, write: bool, tag: str) -> None:
        super().__init__(daemon=True)
        self.port, self.host, self.token, self.path = port, host, token, path
        self.rate, self.write, self.tag = rate, write, tag
        self.stop = threading.Event()
        self.samples: list[tuple[float, float, int]] = []  # (start, latency s, final status)
        self.written: list[str] = []
        self.retried = 0
        self.errors: list[str] = []

    def _request(self, conn: http.client.HTTPConnection, method: str, body: bytes | None) -> int:
        headers = {"Host": self.host, "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        conn.request(method, self.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        started = time.monotonic()
        i = 0
        while not self.stop.is_set():
            due = started + i / self.rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            t0 = time.monotonic()
            try:
                if self.write:
                    title = f"{self.tag}-{i:06d}"
                    body = json.dumps({"title": title}).encode()
                    while True:
                        status = self._request(conn, "POST", body)
                        if status in (503, 429) and not self.stop.is_set():
                            self.retried += 1
                            time.sleep(0.1)
                            continue
                        break
                    if status == 201:
                        self.written.append(title)
                else:
                    status = self._request(conn, "GET", None)
            except (OSError, http.client.HTTPException) as exc:
                status = 0
                self.errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.samples.append((t0, time.monotonic() - t0, status))
            i += 1


class LoadProcess:
    """The Load threads in a separate process: `start(specs)`, then `stop()` returns their results."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    def start(self, specs: list[dict[str, Any]]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.tenant_move", "client"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"port": self.port, "loads": specs}) + "\n")
        self.proc.stdin.flush()

    def stop(self) -> list[Load]:
        assert self.proc is not None
        out, _ = self.proc.communicate("stop\n", timeout=120)
        report = json.loads(out)
        loads = []
        for spec, got in zip(report["specs"], report["loads"], strict=True):
            load = Load(self.port, **spec)
            load.samples = [(t0, lat, status) for t0, lat, status in got["samples"]]
            load.written, load.retried, load.errors = got["written"], got["retried"], got["errors"]
            loads.append(load)
        return loads


def client_main() -> None:
    """The client process: runs the loads until "stop" arrives on stdin, then prints their results."""
    spec = json.loads(sys.stdin.readline())
    loads = [Load(spec["port"], **load) for load in spec["loads"]]
    for load in loads:
        load.start()
    sys.stdin.readline()
    for load in loads:
        load.stop.set()
    for load in loads:
        load.join(60)
    print(
        json.dumps(
            {
                "specs": spec["loads"],
                "loads": [
                    {"samples": ld.samples, "written": ld.written, "retried": ld.retried, "errors": ld.errors}
                    for ld in loads
                ],
            }
        )
    )


def _specs(
    host: str, token: str, path: str, *, rate: float, threads: int, write: bool, tag: str
) -> list[dict[str, Any]]:
    return [
        {"host": host, "token": token, "path": path, "rate": rate / threads, "write": write, "tag": f"{tag}{n}"}
        for n in range(threads)
    ]


def _warm(port: int, host: str, token: str, path: str) -> None:
    """Both workers booted and every thread's first request out of the way before measuring."""
    deadline = time.monotonic() + 120
    ok = 0
    while ok < 40:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", path, headers={"Host": host, "Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            ok += response.status == 200
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
        finally:
            conn.close()


def _org(slug: str, shard: str, tasks: int) -> tuple[Any, str, int]:
    """An organization with `tasks` tasks in one project; (tenant, owner's API token, project id)."""
    from django.db import connections

    from shared_apps.accounts.models import User
    from shared_apps.accounts.services import organization_provision
    from tenant_apps.audit.services import Actor
    from tenant_apps.projects.models import Project
    from tenant_apps.tokens.services import api_token_create
    from tenants.routing import tenant_activate

    tenant = organization_provision(slug=slug, name=slug, owner_email=f"owner@{slug}.bench", shard=shard)
    owner = User.objects.get(email=f"owner@{slug}.bench")
    with tenant_activate(tenant):
        from django.db import transaction

        with transaction.atomic():
            project = Project.objects.create(name="Moving", created_by=owner)
            _, token = api_token_create(actor=Actor(user=owner), user=owner, name="bench")
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "INSERT INTO projects_task (project_id, title, description, status, created_at, updated_at) "
                "SELECT %s, 'seed-' || lpad(g::text, 6, '0'), '', 'todo', now(), now() "
                "FROM generate_series(1, %s) g",
                [project.pk, tasks],
            )
    return tenant, token, project.pk


def _titles(shard: str, schema: str) -> list[str]:
    import psycopg

    from tenants.shards import shard_conninfo

    with psycopg.connect(shard_conninfo(shard), autocommit=True) as conn:
        return [r[0] for r in conn.execute(f'SELECT title FROM "{schema}".projects_task').fetchall()]


def _check(shard: str, schema: str, seeds: int, writers: list[Load]) -> dict[str, Any]:
    titles = _titles(shard, schema)
    expected = {f"seed-{i:06d}" for i in range(1, seeds + 1)}
    for w in writers:
        expected.update(w.written)
    counts: dict[str, int] = {}
    for t in titles:
        counts[t] = counts.get(t, 0) + 1
    return {
        "rows_on_target": len(titles),
        "lost": len(expected - set(titles)),
        "duplicated": sum(1 for n in counts.values() if n > 1),
        "unexpected": len(set(titles) - expected),
    }


def _latencies(writers: list[Load], window: tuple[float, float]) -> dict[str, Any]:
    outside = [lat for w in writers for (t0, lat, _s) in w.samples if not window[0] - 1 <= t0 <= window[1]]
    base = statistics.median(outside) if outside else 0.0
    extra = [max(0.0, lat - base) for w in writers for (_t0, lat, _s) in w.samples]
    during = [lat for w in writers for (t0, lat, _s) in w.samples if window[0] <= t0 <= window[1]]
    return {
        "writes": len(extra),
        "write_latency_median_ms": round(base * 1000, 1),
        "write_extra_latency_p50_ms": round(percentile(extra, 50) * 1000, 1),
        "write_extra_latency_p99_ms": round(percentile(extra, 99) * 1000, 1),
        "write_extra_latency_max_ms": round(max(extra, default=0) * 1000, 1),
        "writes_started_during_move": len(during),
        "writes_retried_503": sum(w.retried for w in writers),
        "write_statuses": sorted({s for w in writers for (_t, _l, s) in w.samples}),
    }


def run(env: dict[str, str]) -> dict[str, Any]:
    import psycopg
    from psycopg import sql

    from tenants.models import Tenant
    from tenants.moves import tenant_move
    from tenants.routing import shard_register
    from tenants.services import schema_pool_refill
    from tenants.shards import shard_bootstrap

    server = env["SHARD_URLS"].split(",")[0].partition("=")[2]
    name = f"bench_shard_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    shard_url = server.rsplit("/", 1)[0] + "/" + name
    shard_register(alias="shard2", url=shard_url)
    shard_bootstrap(alias="shard2")
    schema_pool_refill(size=2)
    rows = int(os.environ.get("BENCH_MOVE_ROWS", "100000"))
    writes = float(os.environ.get("BENCH_MOVE_WRITES", "50"))
    reads = float(os.environ.get("BENCH_MOVE_READS", "100"))
    small_moves = int(os.environ.get("BENCH_MOVE_SMALL", "20"))
    results: dict[str, Any] = {"rows": rows, "target_write_rate": writes, "target_read_rate": reads}

    tenant, token, pid = _org(f"big-{uuid.uuid4().hex[:6]}", "default", rows)
    small, small_token, small_pid = _org(f"small-{uuid.uuid4().hex[:6]}", "default", 20)
    host = f"{tenant.slug}.localhost"
    path = f"/api/v1/projects/{pid}/tasks/"
    read_path = f"/api/v1/projects/{pid}/"
    with _server(env, {"TENANT_SHARDS": f"shard2={shard_url}"}) as port:
        _warm(port, f"{tenant.slug}.localhost", token, f"/api/v1/projects/{pid}/")
        _warm(port, f"{small.slug}.localhost", small_token, f"/api/v1/projects/{small_pid}/")
        threads = int(os.environ.get("BENCH_MOVE_THREADS", "25"))
        client = LoadProcess(port)
        client.start(
            _specs(host, token, path, rate=writes, threads=threads, write=True, tag="w")
            + _specs(host, token, read_path, rate=reads, threads=threads, write=False, tag="r")
        )
        time.sleep(5)
        started = time.monotonic()
        steps: list[tuple[float, str, str]] = []
        move = tenant_move(
            tenant=tenant,
            target="shard2",
            progress=lambda step, detail: steps.append((round(time.monotonic() - started, 2), step, detail)),
        )
        finished = time.monotonic()
        time.sleep(5)
        loads = client.stop()
        writers = [ld for ld in loads if ld.write]
        readers = [ld for ld in loads if not ld.write]
        elapsed = finished - started
        run_seconds = max(s[0] + s[1] for t in writers for s in t.samples) - min(
            s[0] for t in writers for s in t.samples
        )
        results["large"] = {
            "move_seconds": round(elapsed, 2),
            "writes_paused_seconds": round(move.paused_seconds or 0, 3),
            "steps": steps,
            "achieved_write_rate": round(sum(len(w.samples) for w in writers) / run_seconds, 1),
            "achieved_read_rate": round(sum(len(r.samples) for r in readers) / run_seconds, 1),
            **_latencies(writers, (started, finished)),
            "reads": sum(len(r.samples) for r in readers),
            "reads_failed": sum(1 for r in readers for (_t, _l, s) in r.samples if s != 200),
            "client_errors": [e for t in (*writers, *readers) for e in t.errors][:5],
            "shard_after": Tenant.objects.get(pk=tenant.pk).shard,
            **_check("shard2", tenant.schema_name, rows, writers),
        }
        print(json.dumps(results["large"], indent=1, default=str), flush=True)

        host = f"{small.slug}.localhost"
        path = f"/api/v1/projects/{small_pid}/tasks/"
        client = LoadProcess(port)
        client.start(
            _specs(host, small_token, path, rate=10, threads=2, write=True, tag="s")
            + _specs(host, small_token, f"/api/v1/projects/{small_pid}/", rate=20, threads=2, write=False, tag="r")
        )
        durations, pauses = [], []
        target = "shard2"
        for _ in range(small_moves):
            time.sleep(0.5)
            t0 = time.monotonic()
            m = tenant_move(tenant=small, target=target, catchup_timeout=10)
            durations.append(time.monotonic() - t0)
            pauses.append(m.paused_seconds or 0)
            target = "default" if target == "shard2" else "shard2"
        time.sleep(2)
        loads = client.stop()
        small_writers = [ld for ld in loads if ld.write]
        small_readers = [ld for ld in loads if not ld.write]
        final = Tenant.objects.get(pk=small.pk).shard
        results["small"] = {
            "moves": small_moves,
            "move_seconds_median": round(statistics.median(durations), 2),
            "move_seconds_max": round(max(durations), 2),
            "writes_paused_seconds_median": round(statistics.median(pauses), 3),
            "writes_paused_seconds_max": round(max(pauses), 3),
            **_latencies(small_writers, (0, 0)),
            "reads": sum(len(r.samples) for r in small_readers),
            "reads_failed": sum(1 for r in small_readers for (_t, _l, s) in r.samples if s != 200),
            "shard_after": final,
            **_check(final, small.schema_name, 20, small_writers),
        }
    return results


if __name__ == "__main__":
    if sys.argv[1:] == ["client"]:
        client_main()
