"""A real Celery worker process for tests: started against the test database, stopped by its pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.clients import ROOT, database_url


def celery_worker_spawn(*, node: str, queues: str | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a solo-pool worker named `node` (consuming `queues`, or the default queues) in a session
    of its own; it may not be consuming yet (`celery_worker_wait`)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "-l",
            "warning",
            "-n",
            node,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            *(["-Q", queues] if queues else []),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        },
        start_new_session=True,
    )


def celery_worker_wait(proc: subprocess.Popen, node: str, timeout: float = 60.0) -> None:
    """Until the worker answers a ping (it consumes from then on)."""
    from config.celery import app

    deadline = time.monotonic() + timeout
    while not app.control.ping(destination=[node], timeout=0.5):
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"celery worker did not answer a ping within {timeout:.0f} s")


def celery_worker_stop(proc: subprocess.Popen) -> None:
    """SIGTERM (a warm shutdown), SIGKILL after 15 s."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def celery_worker(
    *, name: str, queues: str | None = None, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """A worker named `name@localhost` running until the block ends; it has answered a ping before
    the block starts."""
    node = f"{name}@localhost"
    proc = celery_worker_spawn(node=node, queues=queues, env=env)
    try:
        celery_worker_wait(proc, node)
        yield proc
    finally:
        celery_worker_stop(proc)
