"""Hooks other apps call (on commit) to tell billing something happened. Never raise: a lost
enqueue is caught up by reconciliation."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def on_tenant_provisioned(tenant_id: int) -> None:
    from billing.tasks import create_customer

    try:
        create_customer.apply_async(args=[tenant_id], retry_policy={"max_retries": 2})
    except Exception:
        logger.warning("could not enqueue billing customer creation for tenant %s", tenant_id, exc_info=True)


def on_membership_changed(tenant_id: int, change_id: str) -> None:
    """Seats follow members: enqueue a quantity update if the tenant has a live subscription."""
    from billing.models import LIVE_SUBSCRIPTION_STATUSES, Subscription
    from billing.tasks import sync_seats

    try:
        if not Subscription.objects.filter(tenant_id=tenant_id, status__in=LIVE_SUBSCRIPTION_STATUSES).exists():
            return
        sync_seats.apply_async(args=[tenant_id, change_id], retry_policy={"max_retries": 2})
    except Exception:
        logger.warning("could not enqueue seat sync for tenant %s", tenant_id, exc_info=True)
