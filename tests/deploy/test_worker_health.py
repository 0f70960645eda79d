"""/healthz sees a dead worker within 15 s (issue 10, point 4).

A real Celery worker process, started here and signalled by its pid only, writes its heartbeat
from a thread every WORKER_HEARTBEAT_INTERVAL_SECONDS. It runs with its own cache key prefix (so
the suite's shared worker, if one is running, cannot keep "its" heartbeat fresh) and its own queue
(so it takes no task meant for another test).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests.support.workers import celery_worker_spawn

pytestmark = [pytest.mark.django_db, pytest.mark.worker]


def _healthz() -> tuple[int, dict[str, Any]]:
    response = Client(HTTP_HOST="10.0.0.21").get("/healthz")
    return response.status_code, response.json()


@pytest.fixture
def own_worker(django_db_setup) -> Iterator[tuple[subprocess.Popen, str]]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """(process, key prefix): a Celery worker of our own, stopped by pid afterwards."""
    tag = uuid.uuid4().hex[:10]
    prefix = f"tenantry-test-hb-{tag}"
    proc = celery_worker_spawn(
        node=f"heartbeat-{tag}@localhost", queues=f"heartbeat-test-{tag}", env={"CACHE_KEY_PREFIX": prefix}
    )
    try:
        yield proc, prefix
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=15)


def test_worker_heartbeat_settings_detect_a_dead_worker_within_15_s() -> None:
    # A few missed beats are tolerated (a busy or briefly disconnected worker), and 15 s is the bound.
    assert settings.WORKER_HEARTBEAT_INTERVAL_SECONDS * 3 <= settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS
    assert settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS + settings.WORKER_HEARTBEAT_INTERVAL_SECONDS <= 15


def test_healthz_reports_a_sigkilled_worker_within_15_s(own_worker) -> None:
    proc, prefix = own_worker
    caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    with override_settings(CACHES=caches):
        # No heartbeat under this prefix until the worker is up.
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"worker exited with {proc.returncode}"
            status, body = _healthz()
            if body["checks"]["worker"]["ok"]:
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.2)
        assert status == 200
        # Still beating a while later: the heartbeat does not depend on any task or on beat.
        time.sleep(settings.WORKER_HEARTBEAT_INTERVAL_SECONDS * 2)
        assert _healthz()[1]["checks"]["worker"]["ok"] is True

        os.kill(proc.pid, signal.SIGKILL)  # only the process this test started
        killed_at = time.monotonic()
        proc.wait(timeout=10)
        while True:
            status, body = _healthz()
            elapsed = time.monotonic() - killed_at
            if not body["checks"]["worker"]["ok"]:
                break
            assert elapsed <= 15, body
            time.sleep(0.25)
    print(f"healthz: worker not ok {elapsed:.1f} s after SIGKILL")
    assert elapsed <= 15, elapsed
    # A dead worker is informational: the web can still serve, so the pod stays ready.
    assert status == 200, body
    assert body["status"] == "degraded"
    assert "worker" in body["failing"]
    assert body["checks"]["worker"]["age_s"] > settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS - 1
    assert body["checks"]["database"]["ok"] is True
