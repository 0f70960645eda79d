"""Finance writes: the subscription revenue history the dashboard reads. Called by
billing.services.subscription_apply (webhooks and reconciliation) every time the mirror upserts a
subscription; a row is added only when a revenue-relevant field changed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from billing.finance.money import mrr_of
from billing.models import Subscription, SubscriptionRevision, SubscriptionStatus

_COMPARED = ("status", "plan_code", "currency", "quantity", "unit_amount", "interval", "interval_count")


def _epoch(value: Any) -> dt.datetime | None:
    if value in (None, "", 0):
        return None
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)


def _recurring(data: dict[str, Any]) -> dict[str, Any]:
    items = ((data.get("items") or {}).get("data")) or []
    price = (items[0].get("price") if items else None) or {}
    return (price.get("recurring") or {}) if isinstance(price, dict) else {}


def subscription_revision_record(
    *, subscription: Subscription, data: dict[str, Any] | None = None, at: dt.datetime | None = None
) -> SubscriptionRevision | None:
    """Append the subscription's current revenue state if it differs from its newest revision.

    `data`: the Stripe subscription just mirrored (for the price interval and Stripe's own dates);
    `at`: when Stripe made the change (the event's `created`), else now. A first revision is dated by
    Stripe's `start_date`/`created`, an end by `ended_at`; a revision is never dated before the
    previous one, so the history stays ordered whatever order events arrive in."""
    data = data or {}
    last = SubscriptionRevision.objects.filter(subscription_id=subscription.pk).order_by("-effective_at", "-id").first()
    recurring = _recurring(data)
    interval = str(recurring.get("interval") or (last.interval if last else "month"))
    interval_count = int(recurring.get("interval_count") or (last.interval_count if last else 1))
    state = {
        "status": subscription.status,
        "plan_code": subscription.plan_code,
        "currency": subscription.currency.lower(),
        "quantity": subscription.quantity,
        "unit_amount": subscription.unit_amount,
        "interval": interval,
        "interval_count": interval_count,
    }
    if last is not None and all(getattr(last, name) == state[name] for name in _COMPARED):
        return None
    effective = at or timezone.now()
    if last is None:
        effective = _epoch(data.get("start_date") or data.get("created")) or effective
    elif subscription.status == SubscriptionStatus.CANCELED:
        effective = _epoch(data.get("ended_at")) or effective
    if last is not None and effective < last.effective_at:
        effective = last.effective_at
    return SubscriptionRevision.objects.create(
        subscription=subscription,
        tenant_id=subscription.tenant_id,
        effective_at=effective,
        mrr=mrr_of(
            status=subscription.status,
            unit_amount=subscription.unit_amount,
            quantity=subscription.quantity,
            interval=interval,
            interval_count=interval_count,
        ),
        **state,
    )
