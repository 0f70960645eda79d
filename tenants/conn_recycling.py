"""Close database connections that have used many tenant schemas, at a safe point (D138).

A PostgreSQL backend keeps catalog cache entries (relcache, catcache) for every table it has touched
for as long as it lives: about 125 kB per tenant schema here (docs/benchmarks.md, tenant_scale), so
one long-lived connection that serves every tenant grows without bound as organizations are added.
`CONN_MAX_AGE` and the process recycling (gunicorn max-requests, Celery max-tasks-per-child) bound it
by time or by request count, which says nothing about how many schemas a connection saw.

The rule, in one place: a connection whose count of distinct tenant schemas used since it was opened
(`tenant_schemas_used`, kept by the tenants.db backend) exceeds TENANT_CONN_MAX_SCHEMAS is closed
when a request finishes and when a Celery task finishes, unless it is inside an atomic block. Every
connection of the thread is checked: the control database and each shard's (TENANT_SHARDS), whichever
is swapped in as `default` at that moment. The next query opens a new connection. 0 turns it off.

Behind pgbouncer this closes the client connection only (the server backend goes back to the pool,
with its caches): harmless, and pgbouncer's `server_lifetime` bounds the server side (docs/scaling.md).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connections

from tenants.base.observability import metric_incr
from tenants.routing import control_connection

logger = logging.getLogger(__name__)

RECYCLED_METRIC = "db_connections_recycled"
_connected = False


def conn_max_schemas() -> int:
    return int(getattr(settings, "TENANT_CONN_MAX_SCHEMAS", 0) or 0)


def connection_recycle_due(wrapper: Any) -> bool:
    """True when `wrapper` is open, outside any atomic block, and has used more tenant schemas than
    TENANT_CONN_MAX_SCHEMAS since it was opened."""
    limit = conn_max_schemas()
    if limit <= 0 or getattr(wrapper, "connection", None) is None or wrapper.in_atomic_block:
        return False
    return len(getattr(wrapper, "tenant_schemas_used", ())) > limit


def _thread_connections() -> list[Any]:
    """Every connection this thread has opened: each configured alias, plus the control database's
    while a shard is swapped in as `default` (tenants/routing.py); each once."""
    seen: dict[int, Any] = {}
    for wrapper in [*connections.all(initialized_only=True), control_connection()]:
        seen.setdefault(id(wrapper), wrapper)
    return list(seen.values())


def connections_recycle() -> int:
    """Close this thread's connections that are due (see the module docstring); returns how many."""
    if conn_max_schemas() <= 0:
        return 0
    closed = 0
    for wrapper in _thread_connections():
        if not connection_recycle_due(wrapper):
            continue
        used = len(wrapper.tenant_schemas_used)
        wrapper.close()
        closed += 1
        logger.info("closed database connection %s after %d tenant schemas", wrapper.alias, used)
        metric_incr(RECYCLED_METRIC, str(wrapper.alias))
    return closed


def _on_request_finished(**_: Any) -> None:
    connections_recycle()


def _on_task_postrun(**_: Any) -> None:
    connections_recycle()


def connect_signals() -> None:
    """Called from TenantsConfig.ready(): the end of every request and of every Celery task."""
    global _connected
    if _connected:
        return
    from celery.signals import task_postrun
    from django.core.signals import request_finished

    request_finished.connect(_on_request_finished, weak=False, dispatch_uid="tenantry_conn_recycle_request")
    task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid="tenantry_conn_recycle_task")
    _connected = True
