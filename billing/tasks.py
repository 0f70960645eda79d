"""Thin, idempotent Celery entry points for billing (public schema)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from billing import gateway, services, usage
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# Stripe errors, and PostgreSQL being unavailable (a restart, a failover): retried with backoff instead
# of ending as "raised unexpected: OperationalError". The periodic tasks below simply run again.
RETRY = {
    "autoretry_for": (gateway.GatewayError, OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="billing.create_customer", ignore_result=True, **RETRY)
def create_customer(tenant_id: int) -> str | None:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return None
    return services.billing_customer_ensure(tenant=tenant).stripe_customer_id


@shared_task(name="billing.sync_seats", ignore_result=True, **RETRY)
def sync_seats(tenant_id: int, change_id: str) -> int | None:
    return services.seats_sync(tenant_id=tenant_id, change_id=change_id)


@shared_task(name="billing.report_usage", ignore_result=True)
def report_usage() -> int:
    return usage.usage_report()


@shared_task(name="billing.dunning_sweep", ignore_result=True)
def dunning_sweep() -> list[str]:
    return services.dunning_suspend_overdue()


@shared_task(name="billing.reconcile", ignore_result=True)
def reconcile() -> int:
    from billing.reconcile import reconcile_all

    return reconcile_all().drift_count
