"""Changing a paid subscription's plan from the portal (decisions D75). Before anything changes, the
person sees Stripe's invoice preview:

- upgrade (a dearer plan): applied at once with `always_invoice`, so the prorated difference for the
  rest of the period is charged now; the preview's `amount_due` is that charge;
- downgrade to another paid plan: applied at once with `create_prorations`: nothing is charged now, the
  unused time of the dearer plan is credited on the next invoice (the preview shows the credit and
  that invoice's total);
- to the free plan: the subscription is cancelled at the end of the paid period (the plan stays until
  then; nothing is charged or refunded).

The mirror follows through the usual webhooks (customer.subscription.updated, invoice.*).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from billing import gateway
from billing.models import Subscription
from billing.selectors import subscription_current
from billing.services import _price_id_for_plan, idempotency, ts
from tenants.models import Tenant

UPGRADE, DOWNGRADE, CANCEL = "upgrade", "downgrade", "cancel"


@dataclass(frozen=True)
class PlanChangePreview:
    kind: str  # upgrade | downgrade | cancel
    plan_code: str
    plan_name: str
    currency: str
    amount_due_now: int  # minor units charged at once
    credit: int = 0  # minor units credited for unused time (downgrade; positive)
    next_invoice_total: int | None = None  # downgrade: the next invoice with the credit applied
    effective_at: dt.datetime | None = None  # None: at once
    next_invoice_at: dt.datetime | None = None
    lines: list[tuple[str, int]] = field(default_factory=list)


def _is_proration(line: dict[str, Any]) -> bool:
    if line.get("proration"):
        return True
    parent = line.get("parent") or {}
    for key in ("subscription_item_details", "invoice_item_details"):
        if (parent.get(key) or {}).get("proration"):
            return True
    return False


def _plan(code: str) -> dict[str, Any]:
    plan = settings.BILLING_PLANS.get(code)
    if plan is None:
        raise ValidationError("Unknown plan.", code="plan_invalid")
    return plan


def _live_subscription(tenant: Tenant) -> Subscription:
    sub = subscription_current(tenant_id=tenant.pk)
    if sub is None or not sub.stripe_item_id:
        raise ValidationError(
            "There is no paid subscription to change; choose a plan to upgrade.", code="no_subscription"
        )
    return sub


def plan_change_kind(*, subscription: Subscription, plan_code: str) -> str:
    new = _plan(plan_code)
    if plan_code == subscription.plan_code:
        raise ValidationError("This is already your plan.", code="plan_unchanged")
    if int(new.get("unit_amount") or 0) == 0:
        return CANCEL
    current = settings.BILLING_PLANS.get(subscription.plan_code, {})
    current_amount = int(str(current.get("unit_amount") or subscription.unit_amount))
    return UPGRADE if int(str(new["unit_amount"])) > current_amount else DOWNGRADE


def plan_change_preview(*, tenant: Tenant, plan_code: str) -> PlanChangePreview:
    sub = _live_subscription(tenant)
    kind = plan_change_kind(subscription=sub, plan_code=plan_code)
    plan = _plan(plan_code)
    currency = (sub.currency or plan.get("currency") or "usd").lower()
    if kind == CANCEL:
        return PlanChangePreview(
            kind=kind,
            plan_code=plan_code,
            plan_name=plan["name"],
            currency=currency,
            amount_due_now=0,
            effective_at=sub.current_period_end,
        )
    preview = gateway.invoice_preview_subscription_change(
        customer_id=sub.customer.stripe_customer_id,
        subscription_id=sub.stripe_subscription_id,
        item_id=sub.stripe_item_id,
        price_id=_price_id_for_plan(plan_code),
        quantity=sub.quantity,
        proration_behavior="always_invoice" if kind == UPGRADE else "create_prorations",
    )
    lines = [(str(ln.get("description") or ""), int(ln.get("amount") or 0)) for ln in preview["lines"]["data"]]
    if kind == UPGRADE:
        return PlanChangePreview(
            kind=kind,
            plan_code=plan_code,
            plan_name=plan["name"],
            currency=str(preview.get("currency") or currency),
            amount_due_now=int(preview.get("amount_due") or 0),
            lines=lines,
        )
    credit = -sum(int(ln.get("amount") or 0) for ln in preview["lines"]["data"] if _is_proration(ln))
    return PlanChangePreview(
        kind=kind,
        plan_code=plan_code,
        plan_name=plan["name"],
        currency=str(preview.get("currency") or currency),
        amount_due_now=0,
        credit=max(0, credit),
        next_invoice_total=int(preview.get("total") or 0),
        next_invoice_at=sub.current_period_end or ts(preview.get("period_end")),
        lines=lines,
    )


def plan_change_apply(*, tenant: Tenant, plan_code: str) -> str:
    """Make the change the preview described; returns its kind."""
    sub = _live_subscription(tenant)
    kind = plan_change_kind(subscription=sub, plan_code=plan_code)
    business_id = f"{sub.stripe_subscription_id}:{sub.plan_code}->{plan_code}:{sub.stripe_updated}"
    if kind == CANCEL:
        gateway.subscription_cancel_at_period_end(
            subscription_id=sub.stripe_subscription_id, key=idempotency(tenant.pk, "plan-cancel", business_id)
        )
        return kind
    gateway.subscription_change_price(
        subscription_id=sub.stripe_subscription_id,
        item_id=sub.stripe_item_id,
        price_id=_price_id_for_plan(plan_code),
        quantity=sub.quantity,
        proration_behavior="always_invoice" if kind == UPGRADE else "create_prorations",
        key=idempotency(tenant.pk, "plan-change", business_id),
    )
    return kind
