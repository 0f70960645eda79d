"""Process CPU time for benchmarks: /proc/<pid>/stat utime + stime (clock ticks), and Valkey's own
`INFO cpu`. CPU time does not swing with the machine's load the way wall-clock rates do."""

from __future__ import annotations

import os
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (its threads included, not its children)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "; utime, stime are fields 14, 15
    return (int(fields[11]) + int(fields[12])) / _TICK


def proc_cpu_or_none(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        return proc_cpu_s(pid)
    except (OSError, ValueError, IndexError):
        return None


def valkey_cpu_s(redis_url: str) -> float | None:
    """used_cpu_user + used_cpu_sys of the Valkey server (its main thread and helpers)."""
    try:
        import redis

        info = redis.Redis.from_url(redis_url, socket_timeout=2).info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    except Exception:
        return None


def worker_pid(master_pid: int, timeout: float = 30) -> int:
    """The first child of a gunicorn master (its only worker in the benchmarks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise TimeoutError("gunicorn started no worker")
