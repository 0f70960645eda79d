"""Celery and shards: a task for an organization on a shard runs on that shard, and waits while a move
holds the organization's writes. Above tenants/routing.py and tenants/moves.py (routing stays below
moves: it must not import them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from tenants.moves import tenant_move_wait_unpaused
from tenants.routing import shard_activate, sharding_enabled
from tenants.shard_config import DEFAULT_SHARD

_celery_connected = False


def _task_prerun(task: Any = None, **_: Any) -> None:
    from tenants.conn import connection

    if not sharding_enabled() or getattr(getattr(task, "request", None), "is_eager", False):
        return
    tenant = getattr(connection, "tenant", None)
    if tenant is None or connection.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return
    # Fresh from the routing row (one query): waits while a move holds the organization's writes,
    # and follows a move that finished since the tenant was cached.
    shard = tenant_move_wait_unpaused(tenant_id=tenant.pk) or DEFAULT_SHARD
    tenant.shard = shard
    if shard == DEFAULT_SHARD:
        return
    context = shard_activate(shard)
    context.__enter__()
    shard_connection: Any = connections[DEFAULT_DB_ALIAS]
    shard_connection.set_tenant(tenant)
    task._tenantry_shard_context = context


def _task_postrun(task: Any = None, **_: Any) -> None:
    context = getattr(task, "_tenantry_shard_context", None)
    if context is not None:
        task._tenantry_shard_context = None
        shard_connection: Any = connections[DEFAULT_DB_ALIAS]
        shard_connection.set_schema_to_public()
        context.__exit__(None, None, None)


def connect_celery() -> None:
    """Called from TenantsConfig.ready()."""
    global _celery_connected
    if _celery_connected:
        return
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_prerun, weak=False, dispatch_uid="tenantry_shard_prerun")
    task_postrun.connect(_task_postrun, weak=False, dispatch_uid="tenantry_shard_postrun")
    _celery_connected = True
