"""gunicorn settings, all overridable from the environment.

Workers are recycled after GUNICORN_MAX_REQUESTS requests (plus jitter so they do not all restart
at once): each PostgreSQL connection caches catalog entries for every tenant table it touches
(about 30 kB per table), so a long-lived worker that has served many tenants holds a large backend;
recycling the worker closes its connection and returns that memory (see docs/scaling.md).
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Worker heartbeat files on tmpfs (gunicorn's own advice for containers): works with a read-only
# root filesystem and avoids stalls on slow disks. They hold no data.
_SHM = "/dev/shm"  # noqa: S108
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", _SHM if os.path.isdir(_SHM) else None)
# The TLS-terminating proxy in front sets X-Forwarded-Proto; trust it only from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Django's RequestContextMiddleware writes the access log (JSON, with request id and tenant).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The app is imported once in the master and workers are forked from it, so a worker recycled after
# max_requests starts in milliseconds instead of re-importing Django (about 1 ms of CPU per request at
# the default recycling rate, bench/webhook_ingest). GUNICORN_PRELOAD=0 turns it off.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") not in ("0", "false", "False")


def post_fork(_server: object, _worker: object) -> None:
    """Every worker opens its own database connections: drop any the master may hold."""
    from django.db import connections

    connections.close_all()


limit_request_line = 8190
