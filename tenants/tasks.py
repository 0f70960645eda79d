"""Thin Celery entry points for tenancy."""

from celery import shared_task

from tenants import services
from tenants.base.redis import redis_client
from tenants.celery import tenant_task


@shared_task(name=services.REFILL_SCHEMA_POOL_TASK, ignore_result=True)
def refill_schema_pool() -> int:
    # One refill at a time across all workers; a second caller simply returns.
    lock = redis_client().lock("tenants:pool-refill", timeout=600, blocking=False)
    if not lock.acquire():
        return 0
    try:
        return services.schema_pool_refill()
    finally:
        lock.release()


@shared_task(name="tenants.purge_expired", ignore_result=True)
def purge_expired() -> list[str]:
    return services.tenant_purge_expired()


@tenant_task(name="tenants.tenant_ping")
def tenant_ping() -> dict:
    """Diagnostic: report which schema the worker ran in and how many projects it sees there."""
    return services.tenant_ping()
