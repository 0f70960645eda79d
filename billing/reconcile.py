"""Reconciliation: compare the mirror with Stripe, repair the mirror, store a drift report."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing import gateway, services
from billing.models import BillingCustomer, DriftReport, Invoice, Subscription
from tenants.models import Tenant, TenantStatus

logger = logging.getLogger(__name__)

SUBSCRIPTION_FIELDS = (
    "status",
    "plan_code",
    "price_lookup_key",
    "quantity",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "trial_end",
)
INVOICE_FIELDS = ("status", "amount_due", "amount_paid", "amount_remaining", "total", "number")


def _fmt(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _compare(kind: str, tenant: str, stripe_id: str, before: Any, after: Any, fields: tuple[str, ...]) -> list[dict]:
    items = []
    for name in fields:
        old = getattr(before, name) if before is not None else None
        new = getattr(after, name)
        if before is None or old != new:
            items.append(
                {
                    "kind": kind,
                    "tenant": tenant,
                    "stripe_id": stripe_id,
                    "field": name if before is not None else "*missing*",
                    "mirror": _fmt(old),
                    "stripe": _fmt(new),
                    "repaired": True,
                }
            )
            if before is None:
                break
    return items


def _snapshot(model: Any, **lookup: Any) -> Any:
    return model.objects.filter(**lookup).first()


def reconcile_customer(customer: BillingCustomer) -> list[dict]:
    drift: list[dict] = []
    slug = customer.tenant.slug
    remote_subs = gateway.subscription_list(customer_id=customer.stripe_customer_id)
    remote_invoices = gateway.invoice_list(customer_id=customer.stripe_customer_id)
    with transaction.atomic():
        customer = BillingCustomer.objects.select_for_update().select_related("tenant").get(pk=customer.pk)
        seen = set()
        for data in remote_subs:
            seen.add(data["id"])
            before: Any = _snapshot(Subscription, stripe_subscription_id=data["id"])
            after: Any = services.subscription_apply(customer=customer, data=data)
            drift += _compare("subscription", slug, data["id"], before, after, SUBSCRIPTION_FIELDS)
        for sub in Subscription.objects.filter(customer=customer).exclude(stripe_subscription_id__in=seen):
            drift.append(
                {
                    "kind": "subscription",
                    "tenant": slug,
                    "stripe_id": sub.stripe_subscription_id,
                    "field": "*not_in_stripe*",
                    "mirror": sub.status,
                    "stripe": None,
                    "repaired": False,
                }
            )
        for data in remote_invoices:
            before = _snapshot(Invoice, stripe_invoice_id=data["id"])
            after = services.invoice_apply(customer=customer, data=data)
            drift += _compare("invoice", slug, data["id"], before, after, INVOICE_FIELDS)
    return drift


def reconcile_all(
    *,
    create_missing_customers: bool = True,
    on_planned: Callable[[int], None] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DriftReport:
    """`on_planned(total)` once the work is known, `on_step(tenant slug)` after each tenant (progress):
    one step per organization, whether its customer is reconciled or could not be created."""
    report = DriftReport.objects.create()
    items: list[dict] = []
    errors: list[dict] = []
    checked = 0
    missing: list[Tenant] = []
    if create_missing_customers:
        missing = list(Tenant.objects.exclude(status=TenantStatus.CLOSED).filter(billing_customer__isnull=True))
    if on_planned is not None:
        on_planned(len(missing) + BillingCustomer.objects.count())
    if missing:
        for tenant in missing:
            try:
                services.billing_customer_ensure(tenant=tenant)
                items.append(
                    {
                        "kind": "customer",
                        "tenant": tenant.slug,
                        "stripe_id": tenant.billing_customer.stripe_customer_id,
                        "field": "*missing*",
                        "mirror": None,
                        "stripe": "created",
                        "repaired": True,
                    }
                )
            except gateway.GatewayError as exc:
                errors.append({"tenant": tenant.slug, "error": str(exc)})
                if on_step is not None:
                    on_step(tenant.slug)
    for customer in BillingCustomer.objects.select_related("tenant").order_by("pk"):
        checked += 1
        try:
            items += reconcile_customer(customer)
        except (gateway.GatewayError, ValueError) as exc:
            logger.warning("reconcile %s failed: %s", customer.stripe_customer_id, exc)
            errors.append({"tenant": customer.tenant.slug, "error": str(exc)})
        if on_step is not None:
            on_step(customer.tenant.slug)
    report.items = items
    report.errors = errors
    report.customers_checked = checked
    report.drift_count = len(items)
    report.repaired_count = sum(1 for i in items if i["repaired"])
    report.finished_at = timezone.now()
    report.save()
    return report
