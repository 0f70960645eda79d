"""Thin Celery entry points for outgoing webhooks."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from tenant_apps.outgoing import services
from tenant_apps.outgoing.models import Delivery, DeliveryStatus
from tenants.celery import tenant_task
from tenants.conn import connection


# The hard limit is a backstop only: the HTTP deadline (OUTGOING_WEBHOOKS_TIMEOUT_SECONDS) ends every
# attempt first, and the claim's lease outlives both.
@tenant_task(name=services.DELIVER_TASK, ignore_result=True, soft_time_limit=25, time_limit=30)
def deliver(delivery_id: int) -> str:
    outcome, retry_in = services.delivery_attempt(delivery_id=delivery_id)
    if outcome == "retry" and retry_in is not None and retry_in <= settings.OUTGOING_WEBHOOKS_COUNTDOWN_MAX_SECONDS:
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(enqueued_at=timezone.now())
        services.deliveries_enqueue(schema_name=connection.schema_name, delivery_ids=[delivery_id], countdown=retry_in)
    return outcome


@shared_task(name="outgoing.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """Beat: every tenant's lost enqueues and expired claims, and the queue depth for /metrics."""
    return services.deliveries_sweep_all()


@shared_task(name="outgoing.prune", ignore_result=True)
def prune() -> int:
    """Beat (daily): events past the retention, in every tenant."""
    return services.outbox_prune_all()
