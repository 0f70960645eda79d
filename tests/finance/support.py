"""Known mirror data for the finance tests, built through the billing services that webhooks and
reconciliation use (subscription_apply records the revenue history; invoice_apply mirrors invoices).

The story, all in 2025 (USD unless said), with the catalog's team (12.00/seat/month) and business
(49.00/month) plans plus a yearly enterprise plan (490.00/year = 40.83/month) added for the tests:

- fjord:  team x1 since 2024-06-01 (12.00); canceled 2025-09-09.                        -> churned Sep
- acme:   team x2 from 2025-01-10 (24.00); x5 on 03-05 (60.00); business x1 on 06-10 (49.00)
                                                         -> new Jan, expansion Mar, contraction Jun
- cobalt: team x1 from 2025-01-20; canceled 04-15; a new team x3 subscription 08-03 (36.00)
                                                         -> new Jan, churned Apr, reactivated Aug
- bolt:   enterprise yearly, trial from 02-01, active 02-15 (40.83); past due from 11-20  -> new Feb
- delta:  team x4 trialing from 2025-12-01 (no MRR)
- echo:   team x1 in EUR (10.00) from 2025-05-05                                    -> new May (EUR)
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from billing import services
from billing.models import BillingCustomer, Invoice, Subscription
from tenants.models import Tenant

ENTERPRISE = {
    "name": "Enterprise",
    "lookup_key": "tenantry_enterprise_yearly",
    "unit_amount": 49000,
    "currency": "usd",
    "interval": "year",
    "limits": {"seats": None, "projects": None, "api_rpm": 6000},
    "features": ["projects", "api", "audit_log", "sso"],
}

PRICES: dict[str, dict[str, Any]] = {
    "team": {"id": "price_fin_team", "lookup_key": "tenantry_team_monthly", "unit_amount": 1200, "currency": "usd"},
    "team_eur": {
        "id": "price_fin_team_eur",
        "lookup_key": "tenantry_team_monthly",
        "unit_amount": 1000,
        "currency": "eur",
    },
    "business": {
        "id": "price_fin_business",
        "lookup_key": "tenantry_business_monthly",
        "unit_amount": 4900,
        "currency": "usd",
    },
    "enterprise": {
        "id": "price_fin_enterprise",
        "lookup_key": "tenantry_enterprise_yearly",
        "unit_amount": 49000,
        "currency": "usd",
        "interval": "year",
    },
}


def at(day: str) -> dt.datetime:
    """'2025-03-05' -> 2025-03-05 12:00 UTC."""
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)


def epoch(day: str) -> int:
    return int(at(day).timestamp())


def plans_with_enterprise(settings: Any) -> None:
    settings.BILLING_PLANS = {**settings.BILLING_PLANS, "enterprise": ENTERPRISE}


def organization(slug: str) -> BillingCustomer:
    # Mirror rows only: finance never enters the organization's schema, so none is created.
    tenant = Tenant.objects.create(slug=slug, name=slug.title(), schema_name=f"t_{secrets.token_hex(8)}")
    return BillingCustomer.objects.create(tenant=tenant, stripe_customer_id=f"cus_fin_{slug}", name=tenant.name)


def stripe_subscription(
    sub_id: str,
    customer: BillingCustomer,
    *,
    price: str,
    quantity: int = 1,
    status: str = "active",
    start: str,
    ended: str | None = None,
) -> dict[str, Any]:
    """A Stripe-shaped subscription (the fields the mirror reads)."""
    spec = dict(PRICES[price])
    interval = spec.pop("interval", "month")
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer.stripe_customer_id,
        "status": status,
        "start_date": epoch(start),
        "created": epoch(start),
        "ended_at": epoch(ended) if ended else None,
        "canceled_at": epoch(ended) if ended else None,
        "cancel_at_period_end": False,
        "items": {
            "data": [
                {
                    "id": f"si_{sub_id}",
                    "quantity": quantity,
                    "price": {**spec, "recurring": {"interval": interval, "interval_count": 1}},
                }
            ]
        },
    }


def apply(customer: BillingCustomer, when: str, sub_id: str, **kwargs: Any) -> Subscription:
    """Mirror the subscription's state as Stripe announced it on `when` (the event's `created`)."""
    data = stripe_subscription(sub_id, customer, **kwargs)
    return services.subscription_apply(customer=customer, data=data, marker=at(when))


def invoice(
    customer: BillingCustomer,
    inv_id: str,
    *,
    created: str,
    status: str,
    total: int,
    currency: str = "usd",
    subscription: str = "",
    attempts: int = 1,
    refunded: int = 0,
) -> Invoice:
    paid = total if status == "paid" else 0
    remaining = total if status in ("open", "uncollectible") else 0
    row = services.invoice_apply(
        customer=customer,
        data={
            "id": inv_id,
            "object": "invoice",
            "customer": customer.stripe_customer_id,
            "number": inv_id.upper().replace("IN_", "INV-"),
            "status": status,
            "currency": currency,
            "total": total,
            "amount_due": total,
            "amount_paid": paid,
            "amount_remaining": remaining,
            "attempt_count": attempts,
            "created": epoch(created),
            "period_start": epoch(created),
            "period_end": epoch(created),
            "parent": {"subscription_details": {"subscription": subscription}} if subscription else None,
        },
    )
    if refunded:  # the charge.refunded handler's result (it needs Stripe for the charge itself)
        Invoice.objects.filter(pk=row.pk).update(amount_refunded=refunded)
    return row


@dataclass
class Story:
    customers: dict[str, BillingCustomer] = field(default_factory=dict)


def build_story() -> Story:
    with transaction.atomic():  # as the webhook handlers run (subscription_apply locks the row)
        return _build_story()


def _build_story() -> Story:
    story = Story()
    c = story.customers
    for slug in ("acme", "bolt", "cobalt", "delta", "echo", "fjord"):
        c[slug] = organization(slug)

    apply(c["fjord"], "2024-06-01", "sub_fjord", price="team", start="2024-06-01")
    apply(
        c["fjord"], "2025-09-09", "sub_fjord", price="team", status="canceled", start="2024-06-01", ended="2025-09-09"
    )

    apply(c["acme"], "2025-01-10", "sub_acme", price="team", quantity=2, start="2025-01-10")
    apply(c["acme"], "2025-03-05", "sub_acme", price="team", quantity=5, start="2025-01-10")
    apply(c["acme"], "2025-06-10", "sub_acme", price="business", quantity=1, start="2025-01-10")

    apply(c["cobalt"], "2025-01-20", "sub_cobalt1", price="team", start="2025-01-20")
    apply(
        c["cobalt"],
        "2025-04-15",
        "sub_cobalt1",
        price="team",
        status="canceled",
        start="2025-01-20",
        ended="2025-04-15",
    )
    apply(c["cobalt"], "2025-08-03", "sub_cobalt2", price="team", quantity=3, start="2025-08-03")

    apply(c["bolt"], "2025-02-01", "sub_bolt", price="enterprise", status="trialing", start="2025-02-01")
    apply(c["bolt"], "2025-02-15", "sub_bolt", price="enterprise", start="2025-02-01")
    apply(c["bolt"], "2025-11-20", "sub_bolt", price="enterprise", status="past_due", start="2025-02-01")

    apply(c["delta"], "2025-12-01", "sub_delta", price="team", quantity=4, status="trialing", start="2025-12-01")

    apply(c["echo"], "2025-05-05", "sub_echo", price="team_eur", start="2025-05-05")

    invoice(c["acme"], "in_acme_old", created="2024-12-15", status="paid", total=2400, subscription="sub_acme")
    invoice(c["acme"], "in_acme_1", created="2025-01-10", status="paid", total=2400, subscription="sub_acme")
    invoice(c["acme"], "in_acme_void", created="2025-02-02", status="void", total=500, subscription="sub_acme")
    invoice(
        c["acme"], "in_acme_2", created="2025-04-05", status="paid", total=6000, subscription="sub_acme", refunded=1000
    )
    invoice(
        c["bolt"], "in_bolt_1", created="2025-11-20", status="open", total=49000, subscription="sub_bolt", attempts=2
    )
    invoice(c["cobalt"], "in_cobalt_1", created="2025-01-20", status="paid", total=1200, subscription="sub_cobalt1")
    invoice(
        c["cobalt"],
        "in_cobalt_2",
        created="2025-12-28",
        status="open",
        total=3600,
        subscription="sub_cobalt2",
        attempts=0,
    )
    invoice(
        c["fjord"],
        "in_fjord_1",
        created="2025-08-01",
        status="uncollectible",
        total=1200,
        subscription="sub_fjord",
        attempts=4,
    )
    invoice(
        c["echo"],
        "in_echo_1",
        created="2025-05-05",
        status="paid",
        total=1000,
        currency="eur",
        subscription="sub_echo",
        refunded=1000,
    )
    return story
