"""Checkout latency: from "Pay" on the stand-in's hosted Checkout page to the organization's plan changing.

For each organization: its owner gets an API token, starts a Checkout for the Team plan
(`POST /api/v1/billing/checkout/`), then the "Pay" button is pressed (`POST <checkout url>/complete`,
what the page's form does) while another thread polls `GET /api/v1/billing/` on the organization's
host every 20 ms. Measured from just before the Pay request:

- `detected_ms`: the first poll response that shows `"plan": "team"` (what the user sees; includes up
  to one poll period and the poll request itself);
- `committed_ms`: the mirror's subscription row insertion (`billing.Subscription.created_at`, written
  by the worker in the transaction that changes the plan; same machine clock);
- `delivered_ms`: the first webhook of the checkout stored in the inbox (`received_at`).

Two ways to run it:

- `make bench BENCH=checkout_latency`: its own stack shaped like `make run` (deploy/localstack.py):
  the stand-in sending signed webhooks to `manage.py runserver` with the local settings, a Celery worker
  with make run's flags and Celery beat, on the benchmark's PostgreSQL and Valkey. Steady state: the
  worker answers a ping first; BENCH_CHECKOUT_ORGS organizations (default 15). Then `cold_ms`: the
  worker is restarted and a checkout is paid right away, as when someone pays within a second of
  `make run` printing "ready".
- `python -m bench.checkout_latency live [--orgs N]` against a running `make run` (ports 8000, 12111,
  PostgreSQL 54329, Valkey 63799): the demo organization first (if it has no subscription yet), then
  N new organizations provisioned through `organization_provision`. Prints JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

NAME = "checkout_latency"
ORDER = 60
ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "checkout-latency-2026"  # throwaway benchmark organizations
SECRET = "whsec_bench_checkout_latency"
POLL_SECONDS = 0.02
# make run's worker command line (deploy/localstack.py, cmd_run).
MAKE_RUN_WORKER = ["worker", "-l", "info", "--concurrency", "2"]


# --- One measurement -------------------------------------------------------------------------------


def _request(
    port: int, method: str, path: str, *, host: str, body: dict | None = None, headers: dict | None = None
) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Host": host, **({"Content-Type": "application/json"} if data else {}), **(headers or {})}
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw[:1] == b"{" else {})
    finally:
        conn.close()


def api_token(port: int, host: str, email: str, password: str) -> str:
    status, body = _request(
        port, "POST", "/api/v1/auth/token/", host=host, body={"email": email, "password": password, "name": "latency"}
    )
    if status not in {200, 201}:
        raise RuntimeError(f"token for {email} on {host}: {status} {body}")
    return str(body["token"])


def measure_upgrade(*, web_port: int, host: str, token: str, plan: str = "team") -> dict[str, Any]:
    """Checkout for `plan`, press Pay, poll the billing overview every 20 ms until the plan shows."""
    auth = {"Authorization": f"Bearer {token}"}
    status, body = _request(web_port, "GET", "/api/v1/billing/", host=host, headers=auth)
    assert status == 200, (status, body)
    assert body["plan"] != plan, (status, body)
    status, body = _request(web_port, "POST", "/api/v1/billing/checkout/", host=host, body={"plan": plan}, headers=auth)
    assert status == 201, (status, body)
    pay_url = urlsplit(body["url"])
    seen: dict[str, float] = {}
    polls = 0
    stop = threading.Event()

    def poll() -> None:
        nonlocal polls
        conn = http.client.HTTPConnection("127.0.0.1", web_port, timeout=15)
        while not stop.is_set():
            conn.request("GET", "/api/v1/billing/", headers={"Host": host, **auth})
            response = conn.getresponse()
            payload = json.loads(response.read())
            polls += 1
            if response.will_close:
                conn.close()
            if response.status != 200:
                seen["error"] = 1
                raise RuntimeError(f"poll answered {response.status}: {payload}")
            if payload["plan"] == plan:
                seen["at"] = time.perf_counter()
                return
            stop.wait(POLL_SECONDS)

    poller = threading.Thread(target=poll, daemon=True)
    started_wall, started = time.time(), time.perf_counter()
    poller.start()
    pay_status, _ = _request(
        pay_url.port or 80, "POST", f"{pay_url.path}/complete", host=pay_url.netloc, body=None, headers={}
    )
    paid = time.perf_counter()
    poller.join(30)
    stop.set()
    if "at" not in seen:
        raise RuntimeError(f"the plan did not change within 30 s on {host}")
    return {
        "host": host,
        "pay_status": pay_status,
        "pay_ms": round((paid - started) * 1000, 1),
        "detected_ms": round((seen["at"] - started) * 1000, 1),
        "polls": polls,
        "started_wall": started_wall,
    }


def server_side(results: list[dict[str, Any]]) -> None:
    """Add `committed_ms` and `delivered_ms` from the database (this process must reach it)."""
    from billing.models import Subscription
    from tenants.models import Tenant
    from webhooks.models import WebhookEvent

    for r in results:
        tenant = Tenant.objects.get(slug=r["host"].split(".")[0])
        started = dt.datetime.fromtimestamp(r["started_wall"], tz=dt.UTC)
        sub = Subscription.objects.filter(tenant=tenant).order_by("created_at").first()
        if sub is not None:
            r["committed_ms"] = round((sub.created_at - started).total_seconds() * 1000, 1)
        first = WebhookEvent.objects.filter(received_at__gte=started).order_by("received_at").first()
        if first is not None:
            r["delivered_ms"] = round((first.received_at - started).total_seconds() * 1000, 1)
        r.pop("started_wall", None)


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    from bench._util import percentile

    out: dict[str, Any] = {"runs": len(results)}
    for key in ("detected_ms", "committed_ms", "delivered_ms", "pay_ms"):
        values = [r[key] for r in results if key in r]
        if values:
            out[f"{key}_p50"] = round(statistics.median(values), 1)
            out[f"{key}_p95"] = round(percentile(values, 95), 1)
            out[f"{key}_max"] = round(max(values), 1)
    return out


def _new_org(tag: str) -> tuple[str, str]:
    from django.conf import settings
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from shared_apps.accounts.models import User
    from shared_apps.accounts.services import organization_provision

    email = f"owner@{tag}.test"
    organization_provision(slug=tag, name=f"Latency {tag}", owner_email=email, owner_password=PASSWORD)
    # A hash the web process accepts whatever this process's settings (the benchmark runs with the
    # test settings, whose only hasher is MD5; make run's local settings accept Argon2 and PBKDF2).
    hasher = PBKDF2PasswordHasher()
    User.objects.filter(email=email).update(password=hasher.encode(PASSWORD, hasher.salt()))
    return f"{tag}.{settings.TENANT_BASE_DOMAIN}", email


# --- make bench: a stack shaped like make run ------------------------------------------------------


def _wait_worker(proc: subprocess.Popen, name: str, timeout: float = 60) -> float:
    from config.celery import app

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}")
        if any(name in reply for reply in app.control.ping(timeout=0.3)):
            return time.monotonic() - started
    raise TimeoutError("celery worker did not answer a ping")


@contextlib.contextmanager
def _stack(env: dict[str, str], tmp: Path) -> Iterator[dict[str, Any]]:
    from deploy.localstack import Supervisor, free_port, wait_for_port

    procs = Supervisor()
    standin_port, web_port = free_port(), free_port()
    child_env = {
        **os.environ,
        **env,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "PORT": str(web_port),
        "STRIPE_API_BASE": f"http://127.0.0.1:{standin_port}",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "PYTHONUNBUFFERED": "1",
    }
    worker_name = f"bench-checkout-{os.getpid()}@localhost"
    worker_cmd = [sys.executable, "-m", "celery", "-A", "config", *MAKE_RUN_WORKER, "-n", worker_name]
    try:
        standin = procs.start(
            "stripe",
            [
                sys.executable,
                "-m",
                "deploy.stripe_standin",
                "--port",
                str(standin_port),
                "--webhook-url",
                f"http://localhost:{web_port}/webhooks/stripe/",
                "--webhook-secret",
                SECRET,
            ],
            env=child_env,
            log_file=tmp / "standin.log",
        )
        wait_for_port(standin_port, 30, standin, "stand-in")
        web = procs.start(
            "web",
            # make run's command, plus --skip-checks: system checks are the test suite's and lint's job,
            # and a failing one elsewhere in the tree must not stop a latency measurement.
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload", "--skip-checks"],
            env=child_env,
            log_file=tmp / "web.log",
        )
        worker = procs.start("worker", worker_cmd, env=child_env, log_file=tmp / "worker.log")
        procs.start(
            "beat",
            [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info", "-s", str(tmp / "beat-schedule")],
            env=child_env,
            log_file=tmp / "beat.log",
        )
        wait_for_port(web_port, 60, web, "web server")
        _wait_worker(worker, worker_name)
        yield {
            "procs": procs,
            "web_port": web_port,
            "standin_url": f"http://127.0.0.1:{standin_port}",
            "env": child_env,
            "worker_cmd": worker_cmd,
            "worker_name": worker_name,
            "tmp": tmp,
        }
    finally:
        procs.stop_all()
        if os.environ.get("BENCH_KEEP_LOGS") != "1":  # the processes' logs, kept on request
            shutil.rmtree(tmp, ignore_errors=True)


def _cold(stack: dict[str, Any], tag: str, extra_flags: list[str]) -> dict[str, Any]:
    """Restart the worker, then pay a checkout at once (the window right after `make run` is ready)."""
    host, email = _new_org(tag)
    token = api_token(stack["web_port"], host, email, PASSWORD)
    procs = stack["procs"]
    procs.stop("worker")
    cmd = [*stack["worker_cmd"], *extra_flags]
    worker = procs.start("worker", cmd, env=stack["env"], log_file=stack["tmp"] / "worker.log")
    boot: list[float] = []
    waiter = threading.Thread(target=lambda: boot.append(_wait_worker(worker, stack["worker_name"])))
    waiter.start()
    result = measure_upgrade(web_port=stack["web_port"], host=host, token=token)
    waiter.join(60)
    result["worker_ready_after_start_s"] = round(boot[0], 2) if boot else None
    result["worker_flags"] = " ".join(cmd[cmd.index("worker") :])
    return result


def run(env: dict[str, str]) -> dict[str, Any]:
    import logging

    from django.conf import settings

    from billing import services
    from tenants.services import schema_pool_refill

    logging.getLogger("stripe").setLevel(logging.WARNING)
    orgs = int(os.environ.get("BENCH_CHECKOUT_ORGS", "15"))
    tag = f"co{int(time.time()) % 100000}"
    tmp = Path(tempfile.mkdtemp(prefix="tenantry-checkout-bench-"))
    with _stack(env, tmp) as stack:
        settings.STRIPE_API_BASE = stack["standin_url"]
        services.plans_sync()
        schema_pool_refill(size=orgs + 3)
        steady = []
        for i in range(orgs):
            host, email = _new_org(f"{tag}-{i}")
            token = api_token(stack["web_port"], host, email, PASSWORD)
            steady.append(measure_upgrade(web_port=stack["web_port"], host=host, token=token))
            time.sleep(0.5)  # let the remaining events of this checkout drain
        cold = [_cold(stack, f"{tag}-cold", [])]
        cold.append(_cold(stack, f"{tag}-cold-nomingle", ["--without-mingle", "--without-gossip"]))
        server_side(steady + cold)
    return {
        **summary(steady),
        "steady": steady,
        "cold_make_run_flags": cold[0],
        "cold_without_mingle": cold[1],
        "stack": "stand-in -> runserver (config.settings.local, DEBUG on) -> Celery worker "
        + " ".join(MAKE_RUN_WORKER)
        + " + beat, like make run",
        "poll_interval_ms": POLL_SECONDS * 1000,
        "goal_ms": 1000,
    }


# --- live: against a running make run ------------------------------------------------------------


def live_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.checkout_latency live")
    parser.add_argument("--orgs", type=int, default=5, help="new organizations to measure after the demo one")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:54329/tenantry")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:63799/0")
    os.environ.setdefault("STRIPE_API_BASE", "http://127.0.0.1:12111")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from billing.selectors import subscription_for_tenant
    from tenants.models import Tenant

    results = []
    demo = Tenant.objects.filter(slug="acme").first()
    if demo is not None and subscription_for_tenant(tenant=demo) is None:
        password = os.environ.get("DEMO_PASSWORD") or "tenantry-demo-2026"
        token = api_token(args.port, "acme.localhost", "owner@acme.test", password)
        results.append(measure_upgrade(web_port=args.port, host="acme.localhost", token=token))
    else:
        print("the demo organization already has a subscription: measuring new organizations only", file=sys.stderr)
    tag = f"live{int(time.time()) % 100000}"
    for i in range(args.orgs):
        host, email = _new_org(f"{tag}-{i}")
        token = api_token(args.port, host, email, PASSWORD)
        results.append(measure_upgrade(web_port=args.port, host=host, token=token))
        time.sleep(0.5)
    server_side(results)
    print(json.dumps({**summary(results), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["live"]:
        sys.exit(live_main(sys.argv[2:]))
    print("usage: python -m bench.checkout_latency live [--orgs N]   (or: make bench BENCH=checkout_latency)")
    sys.exit(2)
