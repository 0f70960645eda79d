"""Periodic API upkeep (Celery beat)."""

from __future__ import annotations

from celery import shared_task

from tenants.base.api.idempotency import idempotency_keys_expire


@shared_task(name="api.idempotency_keys_expire", ignore_result=True)
def idempotency_keys_expire_task() -> int:
    """Delete idempotency keys older than 24 hours (one DELETE over the public table, all tenants)."""
    return idempotency_keys_expire()
