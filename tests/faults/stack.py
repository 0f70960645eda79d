"""The fault suite's own stack, in a temporary folder on free ports: PostgreSQL, Valkey, the Stripe
stand-in, gunicorn, a Celery worker (prefork, as deployed) and Celery beat, each in its own process
group, started with deploy.localstack's helpers and signalled only by the pid this suite holds.

Also the event stream (validly signed Stripe events over HTTP, re-sent like Stripe does until they
are acknowledged) and the inbox audit: a PostgreSQL trigger that logs every transaction applying an
event, so an event applied twice is counted (the same check as bench/webhook_ingest).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.localstack import Supervisor, free_port, start_postgres, start_valkey, wait_for_port
from webhooks.signature import sign

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
SECRET = "whsec_fault_suite_only"
FINAL_STATUSES = ("processed", "ignored", "unmatched")

AUDIT_SQL = """
CREATE TABLE IF NOT EXISTS faults_applied (txid bigint NOT NULL, stripe_event_id text NOT NULL,
                                          at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE OR REPLACE FUNCTION faults_log_applied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A processing run gives the row a final status and a fresh processed_at; other writes (enqueue
  -- bookkeeping, a failed attempt) do not.
  IF NEW.status IN ('processed', 'ignored', 'unmatched')
     AND (TG_OP = 'INSERT' OR NEW.processed_at IS DISTINCT FROM OLD.processed_at) THEN
    INSERT INTO faults_applied (txid, stripe_event_id) VALUES (txid_current(), NEW.stripe_event_id);
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS faults_applied ON webhooks_webhookevent;
CREATE TRIGGER faults_applied AFTER INSERT OR UPDATE ON webhooks_webhookevent
  FOR EACH ROW EXECUTE FUNCTION faults_log_applied();
"""


def _wait_http(url: str, timeout: float, proc: subprocess.Popen | None, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - local URL
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{what} did not answer within {timeout:.0f}s")


class Stack:
    """Every process of the suite, by name; `kill` signals one of them by its pid (its own group)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sup = Supervisor()
        self.procs: dict[str, subprocess.Popen] = {}
        self.pg_port, self.redis_port = free_port(), free_port()
        self.web_port, self.standin_port = free_port(), free_port()
        self.worker_name = f"faults-{os.getpid()}@localhost"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.pg_port}/tenantry",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:{self.redis_port}/0",
            "STRIPE_API_BASE": f"http://127.0.0.1:{self.standin_port}",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "PYTHONUNBUFFERED": "1",
        }
        self._celery: Any = None

    # --- processes --------------------------------------------------------------------------------

    def _started(self, name: str) -> subprocess.Popen:
        proc = self.sup.procs[-1][1]
        self.procs[name] = proc
        return proc

    def start_postgres(self) -> None:
        # Durable (fsync, synchronous_commit on), as in production: with `make test`'s fast settings a
        # killed PostgreSQL forgets its last commits, webhooks it had already acknowledged among them.
        start_postgres(self.sup, self.tmp, self.pg_port, fast=False)
        self._started("postgres")

    def start_valkey(self) -> None:
        start_valkey(self.sup, self.tmp, self.redis_port, persist=False)
        self._started("valkey")

    def start_standin(self) -> None:
        env = {k: v for k, v in self.env.items() if k != "STRIPE_WEBHOOK_SECRET"}  # events recorded, not sent
        proc = self.sup.start(
            "standin",
            [PY, "-m", "deploy.stripe_standin", "--port", str(self.standin_port), "--quiet"],
            env=env,
            log_file=self.tmp / "standin.log",
        )
        self.procs["standin"] = proc
        _wait_http(f"http://127.0.0.1:{self.standin_port}/_standin/health", 30, proc, "stand-in")

    def start_web(self) -> None:
        proc = self.sup.start(
            "web",
            [PY, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "config.wsgi:application"],
            env={
                **self.env,
                "GUNICORN_BIND": f"127.0.0.1:{self.web_port}",
                "WEB_CONCURRENCY": "2",
                "GUNICORN_LOG_LEVEL": "warning",
            },
            log_file=self.tmp / "web.log",
        )
        self.procs["web"] = proc
        _wait_http(f"http://127.0.0.1:{self.web_port}/healthz?live=1", 60, proc, "gunicorn")

    def start_worker(self) -> subprocess.Popen:
        """The worker as deployed (deploy/k8s/worker.yaml, make run): prefork, 2 processes."""
        proc = self.sup.start(
            "worker",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "2",
                "--max-tasks-per-child",
                "500",
                "--without-mingle",
                "--without-gossip",
                "-l",
                "info",
                "-n",
                self.worker_name,
            ],
            env=self.env,
            log_file=self.tmp / "worker.log",
        )
        self.procs["worker"] = proc
        return proc

    def start_beat(self) -> None:
        self.procs["beat"] = self.sup.start(
            "beat",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                "info",
                "-s",
                str(self.tmp / "celerybeat-schedule"),
                "--pidfile",
                str(self.tmp / "celerybeat.pid"),
            ],
            env=self.env,
            log_file=self.tmp / "beat.log",
        )

    def kill(self, name: str, sig: signal.Signals, timeout: float = 60) -> None:
        """Signal one of our processes (its whole group, by the pid we hold) and wait for it to end."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if sig == signal.SIGKILL:  # the group's other members (a prefork pool, PostgreSQL's backends)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.sup.procs = [entry for entry in self.sup.procs if entry[1] is not proc]

    def stop_all(self) -> None:
        self.sup.stop_all()
        self.procs.clear()

    # --- set-up -----------------------------------------------------------------------------------

    def manage(self, *args: str) -> None:
        subprocess.run([PY, "manage.py", *args], check=True, cwd=ROOT, env=self.env)

    def setup_data(self, tenants: int) -> dict[str, Any]:
        out = self.tmp / "setup.json"
        subprocess.run(
            [PY, "-m", "tests.faults.setup_data", str(out), str(tenants)], check=True, cwd=ROOT, env=self.env
        )
        return dict(json.loads(out.read_text()))

    # --- broker and database, from this process -----------------------------------------------------

    def celery(self) -> Any:
        if self._celery is None:
            from celery import Celery

            self._celery = Celery("faults-suite", broker=self.env["CELERY_BROKER_URL"])
        return self._celery

    def worker_answers(self, within: float = 1.0) -> bool:
        """Whether our worker answers a ping within `within` seconds (asking again after errors:
        this process's own broker connection may predate a Valkey restart)."""
        deadline = time.monotonic() + within
        while True:
            with contextlib.suppress(Exception):
                if self.celery().control.ping([self.worker_name], timeout=min(1.0, within)):
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def wait_worker(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs.get("worker")
            if proc is None or proc.poll() is not None:
                raise RuntimeError("the Celery worker exited")
            if self.worker_answers(within=1.0):
                return
        raise TimeoutError("the Celery worker did not answer a ping")

    def sql(self, query: str, params: Any = None) -> list[tuple]:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.pg_port}/tenantry", autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    @contextlib.contextmanager
    def subscription_locked(self, subscription_id: str) -> Iterator[None]:
        """Hold the row lock on a subscription's mirror row: a task applying an event for it waits
        (in flight, unacknowledged) until the block ends."""
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.pg_port}/tenantry") as conn:
            conn.execute(
                "SELECT 1 FROM billing_subscription WHERE stripe_subscription_id = %s FOR UPDATE", [subscription_id]
            ).fetchone()
            try:
                yield
            finally:
                conn.rollback()

    def waiting_on_lock(self) -> int:
        """Sessions waiting for a row lock (a task held up by `subscription_locked`)."""
        return int(
            self.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'tenantry' AND wait_event_type = 'Lock'")[
                0
            ][0]
        )

    def install_audit(self) -> None:
        self.sql(AUDIT_SQL)

    def inbox(self) -> dict[str, tuple[str, float | None, float]]:
        """stripe id -> (status, processed_at epoch or None, received_at epoch)"""
        rows = self.sql(
            "SELECT stripe_event_id, status, extract(epoch FROM processed_at)::float8, "
            "extract(epoch FROM received_at)::float8 FROM webhooks_webhookevent"
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def applied_twice(self) -> list[str]:
        rows = self.sql(
            "SELECT stripe_event_id FROM faults_applied GROUP BY 1 HAVING count(DISTINCT txid) > 1 ORDER BY 1"
        )
        return [r[0] for r in rows]

    def wait_port(self, port: int, what: str, timeout: float = 60) -> None:
        wait_for_port(port, timeout, None, what)


# --- The event stream ------------------------------------------------------------------------------


def _event(event_id: str, event_type: str, obj: dict[str, Any], api_version: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": api_version,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


@dataclass
class Streamer:
    """Sends `rate` new signed events a second (rate changes take effect at once) from a few threads,
    like Stripe: an event answered anything but 2xx, or not answered, is sent again a second later
    until it is acknowledged. `acked` maps every acknowledged event id to the wall-clock time of its
    first 2xx."""

    port: int
    tenants: list[dict[str, Any]]
    api_version: str
    rate: float = 10.0
    threads: int = 6
    prefix: str = field(default_factory=lambda: f"flt{int(time.time())}")
    acked: dict[str, float] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._retry: list[tuple[float, str, bytes]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._workers: list[threading.Thread] = []
        self._burst = 0
        self._extra = 0

    def start(self) -> None:
        self._workers = [threading.Thread(target=self._produce, daemon=True)]
        self._workers += [threading.Thread(target=self._send, daemon=True) for _ in range(self.threads)]
        for thread in self._workers:
            thread.start()

    def pause(self) -> None:
        """No new events (re-sends go on)."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def stop(self) -> None:
        self._stop.set()
        for _ in range(self.threads):
            self._queue.put(None)
        for thread in self._workers:
            thread.join(timeout=30)

    def burst(self, count: int) -> None:
        """Send `count` new events at once (on top of the steady rate)."""
        with self._lock:
            self._burst += count

    def unacknowledged(self) -> set[str]:
        with self._lock:
            return set(self.created) - set(self.acked)

    def send_one(self, tenant: dict[str, Any]) -> str:
        """Send one `customer.subscription.updated` for `tenant` now, from this thread, until it is
        acknowledged (it counts with the stream's events); returns its id."""
        with self._lock:
            self._extra += 1
            event_id = f"evt_{self.prefix}x{self._extra:05d}"
            self.created.append(event_id)
        body = json.dumps(_event(event_id, "customer.subscription.updated", tenant["sub"], self.api_version)).encode()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = 0
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                try:
                    conn.request("POST", "/webhooks/stripe/", body=body, headers=self._headers(body))
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                finally:
                    conn.close()
            if 200 <= status < 300:
                with self._lock:
                    self.acked.setdefault(event_id, time.time())
                return event_id
            time.sleep(0.5)
        raise AssertionError(f"{event_id} was not acknowledged")

    @staticmethod
    def _headers(body: bytes) -> dict[str, str]:
        return {
            "Host": "localhost",
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(body=body, secret=SECRET),
        }

    def _next_body(self, n: int) -> tuple[str, bytes]:
        tenant = self.tenants[n % len(self.tenants)]
        event_id = f"evt_{self.prefix}{n:07d}"
        if n % 2 == 0:
            event = _event(event_id, "customer.subscription.updated", tenant["sub"], self.api_version)
        else:
            event = _event(event_id, "invoice.paid", tenant["invoice"], self.api_version)
        return event_id, json.dumps(event).encode()

    def _produce(self) -> None:
        n = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                due = [r for r in self._retry if r[0] <= now]
                self._retry = [r for r in self._retry if r[0] > now]
            for _, event_id, body in due:
                self._queue.put((event_id, body))
            with self._lock:
                burst, self._burst = self._burst, 0
            for _ in range(burst):
                event_id, body = self._next_body(n)
                with self._lock:
                    self.created.append(event_id)
                self._queue.put((event_id, body))
                n += 1
            if self._paused.is_set() or self.rate <= 0:
                next_at = now
                time.sleep(0.05)
                continue
            if now >= next_at:
                event_id, body = self._next_body(n)
                with self._lock:
                    self.created.append(event_id)
                self._queue.put((event_id, body))
                n += 1
                next_at += 1 / self.rate
            else:
                time.sleep(min(0.05, next_at - now))

    def _send(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            item = self._queue.get()
            if item is None:
                break
            event_id, body = item
            status = 0
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                conn.request("POST", "/webhooks/stripe/", body=body, headers=self._headers(body))
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            now = time.time()
            with self._lock:
                self.answers[status] += 1
                if 200 <= status < 300:
                    self.acked.setdefault(event_id, now)
                elif not self._stop.is_set():
                    self._retry.append((time.monotonic() + 1.0, event_id, body))
        if conn is not None:
            conn.close()
