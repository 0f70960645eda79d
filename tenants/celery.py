"""Tenant-aware task helpers.

`tenant_task` declares a task that works on one tenant's data. The schema travels in the message
header (tenant-schemas-celery sets `_schema_name` from the connection at send time, and activates it
in `task_prerun`). If the message carries no tenant, the task fails loudly before touching anything
instead of running in `public`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context

from tenants.conn import connection


class TenantRequiredError(RuntimeError):
    """Raised when tenant work is attempted while the connection is on the public schema."""


def require_tenant_schema() -> str:
    schema = connection.schema_name
    if not schema or schema == settings.PUBLIC_SCHEMA_NAME:
        raise TenantRequiredError(
            "This task works on tenant data but was sent without a tenant; "
            "enqueue it inside the tenant's schema (see tenants.celery.enqueue_for_tenant)."
        )
    return schema


def tenant_task(*task_args: Any, **task_kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """Like @shared_task, but the task body only runs inside a tenant schema."""

    def decorator(func: Callable[..., Any]) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            require_tenant_schema()
            return func(*args, **kwargs)

        run.__name__ = func.__name__
        run.__qualname__ = func.__qualname__
        run.__module__ = func.__module__
        run.__doc__ = func.__doc__
        return shared_task(*task_args, **task_kwargs)(run)

    return decorator


def enqueue_for_tenant(task: Any, *, schema_name: str, args: tuple = (), kwargs: dict | None = None) -> None:
    """Enqueue `task` for the tenant after the current transaction commits."""

    def send() -> None:
        with schema_context(schema_name):
            task.apply_async(args=args, kwargs=kwargs or {})

    transaction.on_commit(send)
