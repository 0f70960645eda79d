"""The revenue history behind the figures: when a revision is recorded, how it is dated, and how a
price becomes monthly revenue."""

from __future__ import annotations

import pytest

from billing.finance.money import display, monthly_amount, mrr_of, units
from billing.models import SubscriptionRevision
from tests.finance.support import apply, at, organization

pytestmark = pytest.mark.django_db


def test_a_revision_only_when_revenue_relevant_fields_change() -> None:
    customer = organization("hist")
    sub = apply(customer, "2025-01-10", "sub_hist", price="team", quantity=2, start="2025-01-10")
    apply(customer, "2025-01-11", "sub_hist", price="team", quantity=2, start="2025-01-10")  # a replayed event
    apply(customer, "2025-02-01", "sub_hist", price="team", quantity=3, start="2025-01-10")
    rows = list(SubscriptionRevision.objects.filter(subscription=sub).order_by("effective_at", "id"))
    assert [(r.effective_at, r.quantity, r.mrr, r.plan_code, r.currency) for r in rows] == [
        (at("2025-01-10"), 2, 2400, "team", "usd"),  # dated by Stripe's start_date
        (at("2025-02-01"), 3, 3600, "team", "usd"),  # dated by the event
    ]
    assert rows[0].tenant_id == customer.tenant_id


def test_a_late_event_never_dates_a_revision_before_the_previous_one() -> None:
    customer = organization("late")
    sub = apply(customer, "2025-03-01", "sub_late", price="team", start="2025-03-01")
    apply(customer, "2025-02-20", "sub_late", price="business", start="2025-03-01")  # an older event, processed late
    assert list(SubscriptionRevision.objects.filter(subscription=sub).values_list("effective_at", "plan_code")) == [
        (at("2025-03-01"), "team"),
        (at("2025-03-01"), "business"),
    ]


def test_status_decides_whether_it_is_revenue() -> None:
    customer = organization("trial")
    sub = apply(customer, "2025-01-01", "sub_trial", price="team", status="trialing", start="2025-01-01")
    apply(customer, "2025-01-15", "sub_trial", price="team", start="2025-01-01")
    apply(customer, "2025-02-15", "sub_trial", price="team", status="past_due", start="2025-01-01")
    apply(customer, "2025-03-15", "sub_trial", price="team", status="canceled", start="2025-01-01", ended="2025-03-20")
    assert list(SubscriptionRevision.objects.filter(subscription=sub).values_list("status", "mrr", "effective_at")) == [
        ("trialing", 0, at("2025-01-01")),
        ("active", 1200, at("2025-01-15")),
        ("past_due", 1200, at("2025-02-15")),
        ("canceled", 0, at("2025-03-20")),  # dated by Stripe's ended_at
    ]


@pytest.mark.parametrize(
    ("unit_amount", "quantity", "interval", "count", "monthly"),
    [
        (1200, 1, "month", 1, 1200),
        (1200, 5, "month", 1, 6000),
        (10000, 1, "year", 1, 833),  # 83.33...
        (10001, 1, "year", 1, 833),
        (10006, 1, "year", 1, 834),  # 833.83 rounds up
        (3000, 1, "month", 3, 1000),  # quarterly
        (1000, 1, "week", 1, 4333),  # 52 weeks / 12 months
        (100, 1, "day", 1, 3042),  # 365 days / 12 months
    ],
)
def test_prices_are_normalised_to_a_month(
    unit_amount: int, quantity: int, interval: str, count: int, monthly: int
) -> None:
    assert (
        monthly_amount(unit_amount=unit_amount, quantity=quantity, interval=interval, interval_count=count) == monthly
    )


@pytest.mark.parametrize("status", ["trialing", "canceled", "incomplete", "incomplete_expired", "unpaid", "paused"])
def test_only_active_and_past_due_subscriptions_count(status: str) -> None:
    assert mrr_of(status=status, unit_amount=1200, quantity=1, interval="month", interval_count=1) == 0
    assert mrr_of(status="past_due", unit_amount=1200, quantity=1, interval="month", interval_count=1) == 1200


def test_amounts_in_currency_units() -> None:
    assert units(1250, "usd") == "12.50"
    assert units(-1100, "eur") == "-11.00"
    assert units(0, "usd") == "0.00"
    assert units(1250, "jpy") == "1250"  # zero-decimal currency
    assert display(123456789, "usd") == "1,234,567.89 USD"
    assert display(5000, "JPY") == "5,000 JPY"
