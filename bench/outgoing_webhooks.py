"""Outgoing webhooks: how fast signed events reach a receiver on this machine.

One organization with one endpoint (every event type) pointing at a local HTTP receiver in this
process (tenant_apps.outgoing.receiver.Receiver, which verifies every signature). Events are real
service writes: `task_update` renames one task, so each is a `task.updated` event written in the
change's transaction and enqueued on commit. A Celery worker process (make run's flags: prefork,
concurrency 2; or BENCH_OUTGOING_POOL=threads with BENCH_OUTGOING_CONCURRENCY) on its own queue
delivers them.

- `throughput`: BENCH_OUTGOING_BURST (default 1000) events are committed while no worker runs; then
  the worker starts and `delivered_per_s` = events / (last arrival - worker ready).
- `latency`: with the worker running, events are committed at BENCH_OUTGOING_RATE (default 50) per
  second for BENCH_OUTGOING_SECONDS (default 20); each event's delay from its commit (the service
  returning) to its arrival at the receiver; p50/p99/max. Goal: p99 <= 250 ms.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench._util import ms, percentile

NAME = "outgoing_webhooks"
ORDER = 70
ROOT = Path(__file__).resolve().parent.parent
GOAL_P99_MS = 250


def _worker(env: dict[str, str], queue: str, pool: str, concurrency: int) -> tuple[subprocess.Popen, str]:
    name = f"bench-outgoing-{uuid.uuid4().hex[:6]}@localhost"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "-Q",
            queue,
            "-n",
            name,
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "OUTGOING_WEBHOOKS_QUEUE": queue, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}")
        if app.control.ping(destination=[name], timeout=0.5):
            return proc, name
    _stop(proc)
    raise TimeoutError("worker did not answer")


def _stop(proc: subprocess.Popen) -> None:
    import signal

    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)  # the main process: a warm shutdown lets running tasks finish
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _measure(
    env: dict[str, str],
    tenant: Any,
    _receiver: Any,
    arrivals: dict[str, float],
    lock: threading.Lock,
    *,
    pool: str,
    concurrency: int,
    burst: int,
    rate: float,
    seconds: float,
    producers: int,
) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connections
    from django_tenants.utils import schema_context

    from tenant_apps.outgoing.models import Delivery, DeliveryStatus
    from tenant_apps.projects.services import project_create, task_create, task_update
    from tenants.base.actor import Actor

    tag = uuid.uuid4().hex[:4]
    queue = f"bench-outgoing-{tag}"
    settings.OUTGOING_WEBHOOKS_QUEUE = queue
    actor = Actor(user=None)
    with schema_context(tenant.schema_name):
        project = project_create(actor=actor, tenant=tenant, name=f"Bench {tag}")
        tasks = [task_create(actor=actor, tenant=tenant, project=project, title=f"start-{n}") for n in range(producers)]
        # --- throughput: a backlog, then the worker drains it ---
        with lock:
            arrivals.clear()
        commit_start = time.perf_counter()
        for i in range(burst):
            task_update(actor=actor, tenant=tenant, task=tasks[0], title=f"{tag}-burst-{i}")
        commit_s = time.perf_counter() - commit_start
    proc, _name = _worker(env, queue, pool, concurrency)
    result: dict[str, Any] = {"pool": pool, "concurrency": concurrency}
    try:
        ready = time.time()
        drained = _wait(lambda: len(arrivals) >= burst, timeout=max(120.0, burst / 5))
        last = max(arrivals.values()) if arrivals else ready
        result["throughput"] = {
            "events": burst,
            "delivered": len(arrivals),
            "all_delivered": drained,
            "commit_per_s_one_thread": round(burst / commit_s, 1),
            "delivered_per_s": round(len(arrivals) / max(1e-9, last - ready), 1),
            "drain_s": round(last - ready, 2),
        }
        # --- latency at a steady rate, committed by `producers` threads (one task each) ---
        with lock:
            arrivals.clear()
        committed: dict[str, float] = {}
        total = int(rate * seconds)
        start = time.perf_counter() + 0.2

        def produce(k: int) -> None:
            try:
                with schema_context(tenant.schema_name):
                    for i in range(k, total, producers):
                        pause = start + i / rate - time.perf_counter()
                        if pause > 0:
                            time.sleep(pause)
                        title = f"{tag}-steady-{i}"
                        task_update(actor=actor, tenant=tenant, task=tasks[k], title=title)
                        committed[title] = time.time()
            finally:
                connections.close_all()

        threads = [threading.Thread(target=produce, args=(k,)) for k in range(producers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        achieved = total / (time.perf_counter() - start)
        _wait(lambda: len(arrivals) >= total, timeout=60)
    finally:
        _stop(proc)
    with schema_context(tenant.schema_name):
        result["not_succeeded"] = Delivery.objects.exclude(status=DeliveryStatus.SUCCEEDED).count()
    delays = [arrivals[t] - committed[t] for t in committed if t in arrivals]
    result["latency"] = {
        "target_rate": rate,
        "achieved_rate": round(achieved, 1),
        "producers": producers,
        "events": total,
        "delivered": len(delays),
        "commit_to_delivery_ms_p50": ms(percentile(delays, 50)) if delays else None,
        "commit_to_delivery_ms_p99": ms(percentile(delays, 99)) if delays else None,
        "commit_to_delivery_ms_max": ms(max(delays)) if delays else None,
        "goal_p99_ms": GOAL_P99_MS,
        "meets_goal": bool(delays) and percentile(delays, 99) * 1000 <= GOAL_P99_MS,
    }
    return result


def run(env: dict[str, str]) -> dict[str, Any]:
    from django_tenants.utils import schema_context

    from shared_apps.accounts.services import organization_provision
    from tenant_apps.outgoing.receiver import Receiver
    from tenant_apps.outgoing.services import endpoint_create
    from tenants.base.actor import Actor
    from tenants.services import schema_pool_refill

    burst = int(os.environ.get("BENCH_OUTGOING_BURST", "1000"))
    rate = float(os.environ.get("BENCH_OUTGOING_RATE", "50"))
    seconds = float(os.environ.get("BENCH_OUTGOING_SECONDS", "20"))
    producers = int(os.environ.get("BENCH_OUTGOING_PRODUCERS", "4"))
    variants = [v.split(":") for v in os.environ.get("BENCH_OUTGOING_VARIANTS", "threads:8,prefork:2").split(",") if v]
    slug = f"hooks{uuid.uuid4().hex[:6]}"
    schema_pool_refill(size=1)
    tenant = organization_provision(
        slug=slug,
        name="Hooks bench",
        owner_email=f"owner@{slug}.bench",
        owner_password="bench-pass-2026",
    )
    arrivals: dict[str, float] = {}
    lock = threading.Lock()

    def record(event: dict | None, _headers: dict[str, str]) -> int:
        if event is None:
            return 400
        with lock:
            arrivals.setdefault(event["data"]["object"]["title"], time.time())
        return 200

    receiver = Receiver(behaviour=record)
    results: dict[str, Any] = {
        "setup": "one organization, one endpoint (task.updated) -> local receiver verifying signatures; "
        "events are task_update service writes; worker on its own queue with the variant's pool",
        "load_average_at_start": os.getloadavg()[0],
        "variants": {},
    }
    with receiver:
        with schema_context(tenant.schema_name):
            _, receiver.secret = endpoint_create(actor=Actor(user=None), url=receiver.url, event_types=["task.updated"])
        for pool, concurrency in variants:
            results["variants"][f"{pool}{concurrency}"] = _measure(
                env,
                tenant,
                receiver,
                arrivals,
                lock,
                pool=pool,
                concurrency=int(concurrency),
                burst=burst,
                rate=rate,
                seconds=seconds,
                producers=producers,
            )
        results["signatures_rejected"] = sum(1 for r in receiver.received if "error" in r)
    results["load_average_at_end"] = os.getloadavg()[0]
    return results
