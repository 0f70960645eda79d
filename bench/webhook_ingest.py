"""Webhook ingest: signed Stripe events over real HTTP at a steady rate, with duplicates, processed by a
real Celery worker into the billing mirror.

Processes (all started here, stopped by pid): the Stripe stand-in (`python -m billing.standin`, events
recorded only, so the load is exactly ours), gunicorn serving the project with `deploy/gunicorn.conf.py`
(BENCH_WEBHOOK_WEB_WORKERS sync workers, access log with the server-side request time `%(D)s`), a
Celery worker on the real broker, and a load client (`python -m bench.webhook_ingest client ...`) that
sends open-loop at BENCH_WEBHOOK_RATE/s for BENCH_WEBHOOK_SECONDS s, BENCH_WEBHOOK_DUPLICATES of the
sends being a resend of an event already sent (same id and body, fresh signature, like Stripe's retries).

The events are the ones Stripe sends for BENCH_WEBHOOK_TENANTS organizations that subscribed through
the stand-in's Checkout: `customer.subscription.updated` and `invoice.paid`, each carrying the real
object. Processing re-fetches it from the stand-in (so it runs too), upserts the mirror and follows
the tenant's lifecycle. While the load runs, seat counts change in the stand-in (each organization
about once a second, stopping 3 s before the end), so re-fetched objects really change; once the queue
has drained every organization's mirror must equal the stand-in (`mirror_mismatches`).

Each of VARIANTS (gunicorn flags, worker flags, worker connection handling) runs in turn with its own
gunicorn and worker, after a 2 s warm-up (BENCH_WEBHOOK_VARIANTS selects some); the top-level keys are
PRIMARY's (the project as committed), every variant's are under `variants`.

Keys: `ack_ms_p50/p99` from gunicorn's access log (request start to response written, in the web
process); `to_state_ms_p50/p99` = inbox `received_at` -> `processed_at` (set in the transaction that
writes the mirror, just before its commit); `lost` = unique events sent but not processed once the
queue drained; `double_applied` = events applied by more than one committed transaction, counted by a
bench-only PostgreSQL trigger that logs (transaction id, event id) for every write marking an inbox
row processed with a new `processed_at`. `cpu_ms_per_event`: CPU time of each process group (and of
the PostgreSQL server, and of the whole machine) over the measured phase, per unique event.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

NAME = "webhook_ingest"
ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_bench_webhook_ingest"
PATH = "/webhooks/stripe/"
WARMUP_SECONDS = 2.0


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# --- Processes ------------------------------------------------------------------------------------


def _wait_http(url: str, timeout: float, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - local URL
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{what} did not answer within {timeout:.0f}s")


def _wait_worker(proc: subprocess.Popen, timeout: float) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with code {proc.returncode}")
        if app.control.ping(timeout=0.5):
            return
    raise TimeoutError("celery worker did not answer a ping")


# --- CPU accounting -------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, int, float] | None:
    """(process group, parent pid, CPU seconds including reaped children) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid, pgrp = int(fields[1]), int(fields[2])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return pgrp, ppid, (utime + stime + cutime + cstime) / _TICK


def _postgres_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    stat = _proc_stat(backend)
    return stat[1] if stat else 0


def cpu_seconds(groups: dict[str, int], postgres_pid: int) -> dict[str, float]:
    """CPU seconds so far of each process group (by leader pid) and of the PostgreSQL server
    (postmaster and its children), plus the whole machine (busy time over all CPUs, every user)."""
    totals = {name: 0.0 for name in groups}
    totals["postgres"] = 0.0
    by_group = {pgrp: name for name, pgrp in groups.items()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _proc_stat(int(entry))
        if stat is None:
            continue
        pgrp, ppid, seconds = stat
        if pgrp in by_group:
            totals[by_group[pgrp]] += seconds
        elif postgres_pid and (int(entry) == postgres_pid or ppid == postgres_pid):
            totals["postgres"] += seconds
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(x) for x in cpu]
    idle = values[3] + values[4]
    totals["machine_busy"] = (sum(values) - idle) / _TICK
    return totals


def pg_counters() -> dict[str, int]:
    """This database's cumulative session and transaction counts (pg_stat_database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT sessions, xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        )
        sessions, xacts = cursor.fetchone()
    return {"sessions": int(sessions), "transactions": int(xacts)}


# --- Audit triggers (bench database only) -------------------------------------------------------

AUDIT_SQL = """
CREATE TABLE IF NOT EXISTS bench_applied (txid bigint NOT NULL, stripe_event_id text NOT NULL);
TRUNCATE bench_applied;
CREATE OR REPLACE FUNCTION bench_log_applied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A processing run marks the row processed with a fresh processed_at; other writes (the ingest's
  -- enqueue bookkeeping, a replay's reset) do not.
  IF NEW.status = 'processed' AND (TG_OP = 'INSERT' OR NEW.processed_at IS DISTINCT FROM OLD.processed_at) THEN
    INSERT INTO bench_applied VALUES (txid_current(), NEW.stripe_event_id);
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS bench_applied ON webhooks_webhookevent;
CREATE TRIGGER bench_applied AFTER INSERT OR UPDATE ON webhooks_webhookevent
  FOR EACH ROW EXECUTE FUNCTION bench_log_applied();
"""

AUDIT_DROP_SQL = """
DROP TRIGGER IF EXISTS bench_applied ON webhooks_webhookevent;
DROP FUNCTION IF EXISTS bench_log_applied();
DROP TABLE IF EXISTS bench_applied;
"""


def _sql(statements: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statements)


# --- Set-up: organizations subscribed through the stand-in's Checkout ------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _subscribe_tenants(count: int, tag: str) -> list[dict[str, Any]]:
    from billing import gateway, services
    from tenants.services import schema_pool_refill, tenant_provision

    services.plans_sync()
    schema_pool_refill(size=count)
    out = []
    for i in range(count):
        slug = f"{tag}-{i}"
        tenant = tenant_provision(slug=slug, name=f"Webhook bench {i}", owner_email=f"owner@{slug}.test")
        url = services.checkout_start(tenant=tenant, plan_code="team", host=f"{slug}.localhost")
        request = urllib.request.Request(f"{url}/complete", data=b"", method="POST")  # noqa: S310
        with contextlib.suppress(urllib.error.HTTPError):  # 303 to the success URL (not followed)
            urllib.request.build_opener(_NoRedirect).open(request, timeout=10)
        customer = services.billing_customer_ensure(tenant=tenant)
        [sub] = gateway.subscription_list(customer_id=customer.stripe_customer_id)
        invoice = gateway.invoice_retrieve(invoice_id=services.stripe_id(sub["latest_invoice"]))
        assert invoice["status"] == "paid", invoice["status"]
        out.append({"tenant_id": tenant.pk, "customer": customer.stripe_customer_id, "sub": sub, "invoice": invoice})
    return out


def _event(event_id: str, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    from billing.standin.constants import API_VERSION

    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def _plan_sends(tenants: list[dict[str, Any]], prefix: str, total: int, dup_fraction: float, seed: int) -> list[str]:
    """Bodies in send order: `total` sends, of which round(total * dup_fraction) resend an event sent
    at least 20 sends (0.1 s at 200/s) earlier."""
    rng = random.Random(seed)
    duplicates = round(total * dup_fraction)
    dup_positions = set(rng.sample(range(40, total), duplicates)) if duplicates else set()
    bodies: list[str] = []
    sent_unique: list[int] = []
    unique = 0
    for position in range(total):
        if position in dup_positions:
            candidates = sent_unique[: max(1, len(sent_unique) - 20)]
            bodies.append(bodies[rng.choice(candidates)])
            continue
        t = tenants[unique % len(tenants)]
        if unique % 2 == 0:
            event = _event(f"evt_{prefix}{unique:07d}", "customer.subscription.updated", t["sub"])
        else:
            event = _event(f"evt_{prefix}{unique:07d}", "invoice.paid", t["invoice"])
        sent_unique.append(position)
        bodies.append(json.dumps(event, indent=2, default=str))  # decimals are strings in Stripe JSON
        unique += 1
    return bodies


def _mutate_seats(tenants: list[dict[str, Any]], stop_at: float, stop: threading.Event, interval: float) -> int:
    from billing import gateway

    changes = 0
    rng = random.Random(7)
    while not stop.is_set() and time.monotonic() < stop_at:
        t = tenants[changes % len(tenants)]
        item_id = t["sub"]["items"]["data"][0]["id"]
        quantity = rng.randint(2, 20)
        gateway.subscription_item_set_quantity(
            item_id=item_id, quantity=quantity, key=f"bench:{item_id}:{changes}:{quantity}"
        )
        changes += 1
        stop.wait(interval)
    return changes


# --- Load client (separate process) ---------------------------------------------------------------


def client_main(argv: list[str]) -> None:
    """python -m bench.webhook_ingest client PORT BODIES_FILE RATE OUT_FILE"""
    from webhooks.signature import sign

    port, bodies_file, rate, out_file = int(argv[0]), argv[1], float(argv[2]), argv[3]
    bodies = [b.encode() for b in json.loads(Path(bodies_file).read_text())]
    threads = 64  # open loop: a slow answer must not hold back the next sends (200/s x 0.3 s in flight)
    results: list[tuple[int, float, float, int, bool]] = [(0, 0.0, 0.0, 0, False)] * len(bodies)
    start = time.perf_counter() + 0.2

    def sender(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(k, len(bodies), threads):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body = bodies[i]
            headers = {
                "Host": "localhost",
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": sign(body=body, secret=SECRET),
            }
            sent = time.perf_counter()
            status, duplicate = 0, False
            for _attempt in range(3):
                try:
                    conn.request("POST", PATH, body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    status = response.status
                    duplicate = status == 200 and json.loads(payload).get("duplicate") is True
                    if response.will_close:
                        conn.close()
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
            results[i] = (i, sent - start, time.perf_counter() - sent, status, duplicate)

    workers = [threading.Thread(target=sender, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    Path(out_file).write_text(json.dumps(results))


def _run_client(port: int, bodies: list[str], rate: float, tmp: Path, name: str) -> list[list[Any]]:
    bodies_file, out_file = tmp / f"{name}-bodies.json", tmp / f"{name}-results.json"
    bodies_file.write_text(json.dumps(bodies))
    subprocess.run(
        [sys.executable, "-m", "bench.webhook_ingest", "client", str(port), str(bodies_file), str(rate), str(out_file)],
        cwd=ROOT,
        check=True,
    )
    return json.loads(out_file.read_text())


# --- Measurement ------------------------------------------------------------------------------------

ACCESS = re.compile(r"^ACK (?P<method>\S+) (?P<path>\S+) (?P<status>\d+) (?P<us>\d+)$")


def _ack_times(log: Path) -> list[float]:
    out = []
    for line in log.read_text().splitlines():
        m = ACCESS.match(line.strip())
        if m and m["method"] == "POST" and m["path"] == PATH:
            out.append(int(m["us"]) / 1000)
    return out


def _wait_drained(since: Any, expected: int, timeout: float) -> float:
    """Wait until `expected` events received since `since` are all processed; returns the wait."""
    from webhooks.models import EventStatus, WebhookEvent

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        rows = WebhookEvent.objects.filter(received_at__gte=since)
        if rows.count() >= expected and not rows.exclude(status=EventStatus.PROCESSED).exists():
            break
        time.sleep(0.2)
    return time.monotonic() - started


# What each variant runs: gunicorn's extra flags and the Celery worker's flags. All use
# deploy/gunicorn.conf.py and the project's settings otherwise.
VARIANTS: dict[str, dict[str, Any]] = {
    "webhook_pool": {
        "web_flags": [],
        "worker_flags": ["-Q", "webhooks", "--pool", "threads", "--concurrency", "2"],
        "about": "as deployed: the webhook worker pool of its own (deploy/k8s/worker-webhooks.yaml, "
        "deploy/compose.yaml, make run): queue `webhooks`, one process with 2 threads",
    },
    "prefork_all_queues": {
        "web_flags": [],
        "worker_flags": ["--pool", "prefork", "--concurrency", "2", "--max-tasks-per-child", "500"],
        "about": "one general worker for every queue, prefork with 2 processes (the fault suite's worker, "
        "deploy/k8s/worker.yaml's pool flags without its -Q)",
    },
}
PRIMARY = "webhook_pool"  # the top-level keys: the project's settings and config files as committed


@contextlib.contextmanager
def _stack(env: dict[str, str], tmp: Path, web_workers: int) -> Iterator[dict]:
    """The stand-in; gunicorn and the worker are started per variant with `start_variant`."""
    from deploy.localstack import Supervisor, free_port

    procs = Supervisor()
    standin_port, web_port = free_port(), free_port()
    child_env = {
        **os.environ,
        **env,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "STRIPE_API_BASE": f"http://127.0.0.1:{standin_port}",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "WEBHOOK_STAGE_TIMING": "1",  # webhooks/stages.py: CPU per stage, flushed to Valkey twice a second
    }

    def start_variant(variant: dict[str, Any]) -> None:
        web = procs.start(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "deploy" / "gunicorn.conf.py"),
                "--access-logformat",
                "ACK %(m)s %(U)s %(s)s %(D)s",
                *variant["web_flags"],
                "config.wsgi:application",
            ],
            env={
                **child_env,
                "GUNICORN_BIND": f"127.0.0.1:{web_port}",
                "WEB_CONCURRENCY": str(web_workers),
                "GUNICORN_THREADS": "1",
                "GUNICORN_ACCESS_LOG": str(tmp / "access.log"),
                "GUNICORN_LOG_LEVEL": "warning",
            },
            log_file=tmp / "web.log",
        )
        _wait_http(f"http://127.0.0.1:{web_port}/healthz?live=1", 60, web, "gunicorn")
        worker = procs.start(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                *variant["worker_flags"],
                "-l",
                "warning",
                "-n",
                f"bench-webhooks-{os.getpid()}@localhost",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=child_env,
            log_file=tmp / "worker.log",
        )
        _wait_worker(worker, 60)

    def stop_variant() -> None:
        procs.stop("worker")
        procs.stop("web")

    try:
        standin = procs.start(
            "standin",
            [sys.executable, "-m", "billing.standin", "--port", str(standin_port), "--quiet"],
            env={k: v for k, v in child_env.items() if k != "STRIPE_WEBHOOK_SECRET"},
            log_file=tmp / "standin.log",
        )
        _wait_http(f"http://127.0.0.1:{standin_port}/_standin/health", 30, standin, "stand-in")
        yield {
            "standin_url": f"http://127.0.0.1:{standin_port}",
            "web_port": web_port,
            "procs": procs,
            "start_variant": start_variant,
            "stop_variant": stop_variant,
        }
    finally:
        procs.stop_all()
        if os.environ.get("BENCH_KEEP_LOGS") != "1":  # the processes' logs, kept on request
            shutil.rmtree(tmp, ignore_errors=True)


WEB_STAGES = ("verify", "parse", "insert", "enqueue")  # in the gunicorn workers, per request (enqueue: per new event)
WORKER_STAGES = ("claim", "fetch", "apply", "record", "commit")  # in the Celery worker, per batch


def _stages_reset() -> None:
    from tenants.base.redis import redis_client
    from webhooks.stages import KEY

    redis_client().delete(KEY)


def _stages_read(sent: int, events: int, cpu_ms: dict[str, float]) -> dict[str, Any]:
    """CPU per unique event of each stage (webhooks/stages.py: the CPU of the thread running it, the
    client side of its round trips included), and what the stages leave unexplained in each process
    (gunicorn + Django's request handling; Celery's consumer and task overhead)."""
    from tenants.base.redis import redis_client
    from webhooks.stages import KEY

    raw = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in redis_client().hgetall(KEY).items()}
    out: dict[str, Any] = {}
    for name in (*WEB_STAGES, *WORKER_STAGES):
        ns, calls = raw.get(f"{name}:ns", 0), raw.get(f"{name}:n", 0)
        if name in WEB_STAGES:
            # The web flushes twice a second, so its last half second may be missing: scale the mean
            # per call by the calls there were (every send; a new event for enqueue).
            per_call = ns / calls if calls else 0.0
            total_ns = per_call * (events if name == "enqueue" else sent)
        else:  # the worker flushes at the end of every drain: complete
            total_ns = float(ns)
        out[name] = {
            "cpu_ms_per_event": round(total_ns / 1e6 / events, 3),
            "calls": calls,
            "cpu_us_per_call": round(ns / calls / 1000, 1) if calls else None,
        }
    # Counts only: drain messages sent (`publish`, their CPU is in enqueue) and drains run.
    out["counts"] = {name: raw.get(f"{name}:n", 0) for name in ("publish", "drain")}
    web_sum = sum(out[n]["cpu_ms_per_event"] for n in WEB_STAGES)
    worker_sum = sum(out[n]["cpu_ms_per_event"] for n in WORKER_STAGES)
    out["web_other"] = {"cpu_ms_per_event": round(cpu_ms.get("web", 0.0) - web_sum, 3)}
    out["worker_other"] = {"cpu_ms_per_event": round(cpu_ms.get("worker", 0.0) - worker_sum, 3)}
    return out


def _measure(
    stack: dict[str, Any],
    tenants: list[dict[str, Any]],
    tmp: Path,
    prefix: str,
    rate: float,
    seconds: float,
    dup: float,
    warmup: bool = True,
) -> dict[str, Any]:
    """Warm up, then one measured phase against the running worker; every key of the result."""
    from django.db import connection
    from django.utils import timezone

    from bench._util import percentile
    from billing import gateway
    from billing.models import Subscription
    from webhooks.models import EventStatus, WebhookEvent

    if warmup:
        warm_bodies = _plan_sends(tenants, f"{prefix}w", int(rate * WARMUP_SECONDS), 0.0, seed=1)
        warm_since = timezone.now()
        _run_client(stack["web_port"], warm_bodies, rate, tmp, f"{prefix}-warmup")
        _wait_drained(warm_since, len(warm_bodies), timeout=120)
    ack_lines = len(_ack_times(tmp / "access.log"))

    total = int(rate * seconds)
    bodies = _plan_sends(tenants, f"{prefix}m", total, dup, seed=2)
    unique_ids = {json.loads(b)["id"] for b in bodies}
    groups = {name: proc.pid for name, proc in stack["procs"].procs}
    groups["bench"] = os.getpgid(0)  # this process, the seat changes and the load client
    pg_pid = _postgres_pid()
    load_before = os.getloadavg()[0]
    _stages_reset()
    cpu_before, pg_before = cpu_seconds(groups, pg_pid), pg_counters()
    stop = threading.Event()
    changes: list[int] = []
    mutator = threading.Thread(
        target=lambda: changes.append(_mutate_seats(tenants, time.monotonic() + seconds - 3, stop, 1 / len(tenants)))
    )
    since = timezone.now()
    mutator.start()
    results = _run_client(stack["web_port"], bodies, rate, tmp, f"{prefix}-measured")
    stop.set()
    mutator.join()
    drain_s = _wait_drained(since, len(unique_ids), timeout=300)
    cpu_after, pg_after = cpu_seconds(groups, pg_pid), pg_counters()
    load_after = os.getloadavg()[0]
    time.sleep(1.0)  # anything still running (a late duplicate's task) finishes
    acks = _ack_times(tmp / "access.log")[ack_lines:]

    rows = list(
        WebhookEvent.objects.filter(stripe_event_id__in=unique_ids).values_list(
            "status", "received_at", "processed_at", "attempts"
        )
    )
    processed = [r for r in rows if r[0] == EventStatus.PROCESSED]
    to_state = [(r[2] - r[1]).total_seconds() * 1000 for r in processed if r[2] is not None]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT stripe_event_id FROM bench_applied "
            "WHERE stripe_event_id = ANY(%s) GROUP BY 1 HAVING count(DISTINCT txid) > 1) d",
            [list(unique_ids)],
        )
        double_applied = cursor.fetchone()[0]
    # Every organization's mirror equals the stand-in once the queue has drained.
    mismatches = []
    for t in tenants:
        remote = gateway.subscription_retrieve(subscription_id=t["sub"]["id"])
        mirror = Subscription.objects.get(stripe_subscription_id=t["sub"]["id"])
        remote_qty = int(remote["items"]["data"][0]["quantity"])
        if (mirror.status, mirror.quantity) != (remote["status"], remote_qty):
            mismatches.append([t["sub"]["id"], mirror.status, mirror.quantity, remote["status"], remote_qty])

    sends = [r for r in results if r[3]]
    span = max(r[1] for r in results) - min(r[1] for r in results)
    client_ms = [r[2] * 1000 for r in results]
    lag_ms = [max(0.0, (r[1] - r[0] / rate) * 1000) for r in results]
    events = len(unique_ids)
    cpu_ms = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / events, 2) for name in cpu_before}
    product = round(cpu_ms["web"] + cpu_ms["worker"] + cpu_ms["postgres"], 2)
    return {
        "sent": len(results),
        "duplicates": total - events,
        "unique_events": events,
        "answered_duplicate": sum(1 for r in results if r[4]),
        "non_200": sum(1 for r in results if r[3] != 200),
        "achieved_rate": round((len(sends) - 1) / span, 1) if span else None,
        "ack_ms_p50": round(percentile(acks, 50), 2),
        "ack_ms_p99": round(percentile(acks, 99), 2),
        "ack_ms_max": round(max(acks), 2),
        "ack_samples": len(acks),
        "client_ms_p50": round(percentile(client_ms, 50), 2),
        "client_ms_p99": round(percentile(client_ms, 99), 2),
        "send_lag_ms_p99": round(percentile(lag_ms, 99), 2),
        "to_state_ms_p50": round(percentile(to_state, 50), 1),
        "to_state_ms_p99": round(percentile(to_state, 99), 1),
        "to_state_ms_max": round(max(to_state), 1),
        "lost": events - len(processed),
        "double_applied": double_applied,
        "retried": sum(1 for r in processed if r[3] > 1),
        "drain_s": round(drain_s, 2),
        "seat_changes_in_stripe": changes[0] if changes else 0,
        "mirror_mismatches": mismatches,
        "cpu_ms_per_event": cpu_ms,
        # web + worker + PostgreSQL: the product's CPU (the stand-in, which plays Stripe, and the load
        # client are measured but not counted)
        "product_cpu_ms_per_event": product,
        "stage_cpu": _stages_read(len(results), events, cpu_ms),
        "applied_within_s": round(max(to_state) / 1000, 1) if to_state else None,
        "pg_new_sessions": pg_after["sessions"] - pg_before["sessions"],
        "pg_transactions_per_event": round((pg_after["transactions"] - pg_before["transactions"]) / events, 2),
        "loadavg_1m_before_after": [round(load_before, 2), round(load_after, 2)],
    }


def run(env: dict[str, str]) -> dict[str, Any]:
    from django.conf import settings

    rate = _float("BENCH_WEBHOOK_RATE", 200)
    seconds = _float("BENCH_WEBHOOK_SECONDS", 30)
    dup_fraction = _float("BENCH_WEBHOOK_DUPLICATES", 0.10)
    tenant_count = _int("BENCH_WEBHOOK_TENANTS", 10)
    web_workers = _int("BENCH_WEBHOOK_WEB_WORKERS", 3)
    chosen = [v for v in os.environ.get("BENCH_WEBHOOK_VARIANTS", PRIMARY).split(",") if v]
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    tag = f"wh{int(time.time())}"
    logging.getLogger("stripe").setLevel(logging.WARNING)  # one INFO line per API call otherwise
    tmp = Path(tempfile.mkdtemp(prefix="tenantry-webhook-bench-"))

    burst_rate = _float("BENCH_WEBHOOK_BURST_RATE", 1000)
    burst_seconds = _float("BENCH_WEBHOOK_BURST_SECONDS", 10)
    variants: dict[str, dict[str, Any]] = {}
    burst: dict[str, Any] = {}
    with _stack(env, tmp, web_workers) as stack:
        settings.STRIPE_API_BASE = stack["standin_url"]
        settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
        tenants = _subscribe_tenants(tenant_count, tag)
        _sql(AUDIT_SQL)
        try:
            for i, name in enumerate(chosen):
                variant = VARIANTS[name]
                stack["start_variant"](variant)
                try:
                    result = _measure(stack, tenants, tmp, f"{tag}{i}", rate, seconds, dup_fraction)
                    if name == chosen[0] and burst_seconds > 0:
                        burst = _measure(
                            stack, tenants, tmp, f"{tag}{i}b", burst_rate, burst_seconds, dup_fraction, warmup=False
                        )
                        print(f"   {name} burst: {json.dumps({k: burst[k] for k in BURST_KEYS})}", flush=True)
                finally:
                    stack["stop_variant"]()
                variants[name] = {
                    "web": " ".join(["gunicorn", *variant["web_flags"]]),
                    "worker": "celery " + " ".join(variant["worker_flags"]) + " (prefetch multiplier 1, acks_late)",
                    "about": variant["about"],
                    **result,
                }
                print(f"   {name}: {json.dumps({k: result[k] for k in KEYS})}", flush=True)
        finally:
            _sql(AUDIT_DROP_SQL)
    primary = variants.get(PRIMARY) or next(iter(variants.values()))
    return {
        **{k: primary[k] for k in KEYS},
        "primary_variant": PRIMARY if PRIMARY in variants else next(iter(variants)),
        "variants": variants,
        "target_rate": rate,
        "seconds": seconds,
        "tenants": tenant_count,
        "server": f"gunicorn -c deploy/gunicorn.conf.py, {web_workers} sync workers, access log with %(D)s; "
        "test settings, LOG_LEVEL=WARNING",
        "goal_ack_ms_p99": 10,
        "goal_to_state_ms_p99": 250,
        "goal_product_cpu_ms_per_event": 3,
        "burst": {
            "variant": chosen[0],
            "target_rate": burst_rate,
            "seconds": burst_seconds,
            "goal": "0 non-2xx, everything applied within 60 s of its send, 0 lost, 0 double",
            **burst,
        },
    }


BURST_KEYS = ("non_200", "achieved_rate", "applied_within_s", "drain_s", "lost", "double_applied", "sent")
KEYS = (
    "product_cpu_ms_per_event",
    "ack_ms_p50",
    "ack_ms_p99",
    "to_state_ms_p50",
    "to_state_ms_p99",
    "lost",
    "double_applied",
    "sent",
    "duplicates",
    "achieved_rate",
)


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"]:
        client_main(sys.argv[2:])
    else:
        print("usage: python -m bench.webhook_ingest client PORT BODIES_FILE RATE OUT_FILE")
        sys.exit(2)
