"""Billing reads. `entitlements_for_tenant` is the one place the API asks what a tenant may do."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from billing.models import LIVE_SUBSCRIPTION_STATUSES, Invoice, Subscription
from billing.usage import usage_current_hour
from shared_apps.accounts.selectors import membership_count
from tenants.models import Tenant, TenantStatus


@dataclass(frozen=True)
class Entitlements:
    plan: str
    seats: int | None  # None = unlimited
    projects: int | None
    api_rpm: int | None
    features: frozenset[str] = field(default_factory=frozenset)
    read_only: bool = False  # writes refused (suspended for non-payment)


def plan_catalog() -> dict[str, dict]:
    return settings.BILLING_PLANS


def subscription_current(*, tenant_id: int) -> Subscription | None:
    """The newest live (active, trialing or past_due) subscription, if any."""
    return (
        Subscription.objects.filter(tenant_id=tenant_id, status__in=LIVE_SUBSCRIPTION_STATUSES)
        .order_by("-created_at")
        .first()
    )


def subscription_for_tenant(*, tenant: Tenant) -> Subscription | None:
    return subscription_current(tenant_id=tenant.pk)


def seat_count(*, tenant_id: int) -> int:
    """Seats billed: the organization's members, at least one. Stripe's subscription quantity (seats_sync),
    the API's billing overview and the portal show this same number."""
    return max(1, membership_count(tenant_id=tenant_id))


def plan_code_for_tenant(*, tenant: Tenant) -> str:
    """The live subscription's plan; the default plan without one (or with an unknown price)."""
    sub = subscription_for_tenant(tenant=tenant)
    if sub is not None and sub.plan_code in plan_catalog():
        return sub.plan_code
    return settings.BILLING_DEFAULT_PLAN


def invoices_for_tenant(*, tenant: Tenant) -> QuerySet[Invoice]:
    return Invoice.objects.filter(tenant_id=tenant.pk).order_by("-stripe_created", "-id")


def entitlements_for_tenant(*, tenant: Tenant) -> Entitlements:
    code = plan_code_for_tenant(tenant=tenant)
    plan = plan_catalog().get(code) or plan_catalog()[settings.BILLING_DEFAULT_PLAN]
    limits = plan["limits"]
    return Entitlements(
        plan=code,
        seats=limits.get("seats"),
        projects=limits.get("projects"),
        api_rpm=limits.get("api_rpm"),
        features=frozenset(plan.get("features", [])),
        read_only=tenant.status == TenantStatus.SUSPENDED,
    )


@dataclass(frozen=True)
class BillingOverview:
    """The billing overview: the API's GET /api/v1/billing/, the portal's dashboard and billing page."""

    entitlements: Entitlements
    plan: dict  # the effective plan's catalog entry
    subscription: Subscription | None
    seats_used: int  # seat_count: what Stripe bills
    api_requests_this_hour: int


def billing_overview(*, tenant: Tenant, entitlements: Entitlements | None = None) -> BillingOverview:
    """`entitlements`: the request's, when the caller has them already."""
    ent = entitlements if entitlements is not None else entitlements_for_tenant(tenant=tenant)
    return BillingOverview(
        entitlements=ent,
        plan=plan_catalog().get(ent.plan, {}),
        subscription=subscription_current(tenant_id=tenant.pk),
        seats_used=seat_count(tenant_id=tenant.pk),
        api_requests_this_hour=usage_current_hour(tenant.pk),
    )


@dataclass(frozen=True)
class Notice:
    """Something the organization's billing managers must act on, shown by the billing overview."""

    code: str  # payment_action_required | payment_failed | trial_ending
    message: str
    url: str = ""  # where to act (the hosted invoice page), if anywhere specific
    invoice: str = ""
    date: dt.datetime | None = None  # trial_ending: when the trial ends


def billing_notices_for_tenant(
    *, tenant: Tenant, subscription: Subscription | None = None, now: dt.datetime | None = None
) -> list[Notice]:
    """Derived from the mirror on every read, so a notice disappears as soon as Stripe's state (an
    invoice paid, a trial converted) reaches the mirror. `subscription`: the tenant's current one, if
    the caller already has it."""
    now = now or timezone.now()
    notices = []
    for inv in Invoice.objects.filter(tenant_id=tenant.pk, status="open", attempt_count__gt=0).order_by(
        "stripe_created", "id"
    ):
        label = inv.number or inv.stripe_invoice_id
        if inv.action_required_at is not None:
            notices.append(
                Notice(
                    code="payment_action_required",
                    message=f"Your bank asks you to confirm the payment of invoice {label}.",
                    url=inv.hosted_invoice_url,
                    invoice=inv.stripe_invoice_id,
                )
            )
        else:
            notices.append(
                Notice(
                    code="payment_failed",
                    message=f"The payment of invoice {label} failed. Update your payment details or pay it.",
                    url=inv.hosted_invoice_url,
                    invoice=inv.stripe_invoice_id,
                )
            )
    sub = subscription if subscription is not None else subscription_for_tenant(tenant=tenant)
    if (
        sub is not None
        and sub.status == "trialing"
        and sub.trial_will_end_at is not None
        and sub.trial_end is not None
        and sub.trial_end > now
    ):
        notices.append(
            Notice(
                code="trial_ending",
                message=f"Your trial ends on {sub.trial_end:%Y-%m-%d %H:%M} UTC. Add payment details to keep "
                f"the {sub.plan_code or 'current'} plan.",
                date=sub.trial_end,
            )
        )
    return notices


# --- Platform finance ----------------------------------------------------------------------------


def invoices_all() -> QuerySet[Invoice]:
    return Invoice.objects.select_related("tenant").order_by("-stripe_created", "-id")


def finance_summary() -> dict:
    """MRR by plan (live subscriptions, minor units per month), subscription counts, failed payments."""
    mrr: dict[str, int] = {}
    counts: dict[str, int] = {}
    for sub in Subscription.objects.filter(status__in=LIVE_SUBSCRIPTION_STATUSES):
        code = sub.plan_code or "unknown"
        mrr[code] = mrr.get(code, 0) + sub.unit_amount * sub.quantity
        counts[code] = counts.get(code, 0) + 1
    failed = Invoice.objects.filter(status="open", attempt_count__gt=0).select_related("tenant")
    recent = invoices_all()[:50]
    return {
        "mrr_by_plan": mrr,
        "mrr_total": sum(mrr.values()),
        "subscriptions_by_plan": counts,
        "failed_payments": [
            {
                "tenant": i.tenant.slug,
                "invoice": i.stripe_invoice_id,
                "amount_due": i.amount_due,
                "attempts": i.attempt_count,
            }
            for i in failed
        ],
        "invoices": [
            {
                "tenant": i.tenant.slug,
                "invoice": i.stripe_invoice_id,
                "number": i.number,
                "status": i.status,
                "total": i.total,
                "currency": i.currency,
            }
            for i in recent
        ],
    }
