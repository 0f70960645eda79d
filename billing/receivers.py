"""Billing's answers to what lower layers announce (tenants.signals, shared_apps.accounts.signals),
connected in BillingConfig.ready. They run after the announcing transaction committed and never raise:
a lost enqueue is caught up by reconciliation."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


def on_tenant_provisioned(sender: object, *, tenant_id: int, **kwargs: Any) -> None:
    """A new organization gets its Stripe customer (when BILLING_CREATE_CUSTOMERS is on)."""
    if not settings.BILLING_CREATE_CUSTOMERS:
        return
    from billing.tasks import create_customer

    try:
        create_customer.apply_async(args=[tenant_id], retry_policy={"max_retries": 2})
    except Exception:
        logger.warning("could not enqueue billing customer creation for tenant %s", tenant_id, exc_info=True)


def on_membership_changed(sender: object, *, tenant_id: int, change_id: str, **kwargs: Any) -> None:
    """Seats follow members: enqueue a quantity update if the tenant has a live subscription."""
    from billing.models import LIVE_SUBSCRIPTION_STATUSES, Subscription
    from billing.tasks import sync_seats

    try:
        if not Subscription.objects.filter(tenant_id=tenant_id, status__in=LIVE_SUBSCRIPTION_STATUSES).exists():
            return
        sync_seats.apply_async(args=[tenant_id, change_id], retry_policy={"max_retries": 2})
    except Exception:
        logger.warning("could not enqueue seat sync for tenant %s", tenant_id, exc_info=True)
