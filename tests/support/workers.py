"""A real Celery worker process for tests: started against the test database, stopped by its pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.clients import ROOT, database_url


@contextmanager
def celery_worker(
    *, name: str, queues: str | None = None, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """A solo-pool worker named `name@localhost` (consuming `queues`, or the default queues), running
    until the block ends; it has answered a ping before the block starts."""
    from config.celery import app

    node = f"{name}@localhost"
    proc = subprocess.Popen(
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
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[node], timeout=0.5):
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("celery worker did not answer a ping within 60 s")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
