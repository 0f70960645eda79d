"""CPU per pipeline stage, for bench/webhook_ingest (off unless WEBHOOK_STAGE_TIMING=1).

Each stage adds the CPU time of the thread that ran it (`time.thread_time_ns`: the client side of a
round trip included, the database server's side not) and a count. Totals are written to one Valkey
hash at most every FLUSH_SECONDS (and at the end of each drain), so enabling it costs no round trip per
event. The benchmark clears the hash before its measured phase and divides by the events sent."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

ENABLED = os.environ.get("WEBHOOK_STAGE_TIMING") == "1"
KEY = "tenantry:bench:webhook-stages"
FLUSH_SECONDS = 0.5

_lock = threading.Lock()
_pending: dict[str, list[int]] = {}
_last_flush = 0.0


def add(stage: str, cpu_ns: int, count: int = 1) -> None:
    if not ENABLED:
        return
    with _lock:
        entry = _pending.setdefault(stage, [0, 0])
        entry[0] += cpu_ns
        entry[1] += count
    flush()


@contextmanager
def stage(name: str) -> Iterator[None]:
    if not ENABLED:
        yield
        return
    started = time.thread_time_ns()
    try:
        yield
    finally:
        add(name, time.thread_time_ns() - started)


def flush(*, force: bool = False) -> None:
    global _last_flush
    if not ENABLED:
        return
    now = time.monotonic()
    with _lock:
        if not _pending or (not force and now - _last_flush < FLUSH_SECONDS):
            return
        batch = dict(_pending)
        _pending.clear()
        _last_flush = now
    from redis.exceptions import RedisError

    from tenants.base.redis import redis_client

    try:
        pipe = redis_client().pipeline(transaction=False)
        for name, (cpu_ns, count) in batch.items():
            pipe.hincrby(KEY, f"{name}:ns", cpu_ns)
            pipe.hincrby(KEY, f"{name}:n", count)
        pipe.execute()
    except RedisError:
        pass  # a benchmark aid: a lost flush only makes the per-stage table less complete
