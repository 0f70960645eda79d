"""The revenue history follows every way the mirror changes a subscription, including a subscription
that Stripe no longer knows (subscription_sync marks it canceled without an object to apply)."""

from __future__ import annotations

import pytest
from django.db import transaction

from billing import services
from billing.models import SubscriptionRevision
from tests.billing.support import _stripe_settings, standin
from tests.finance.support import apply, at, organization

__all__ = ["_stripe_settings", "standin"]  # the stand-in Stripe for these tests

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("standin")
def test_a_subscription_gone_from_stripe_ends_its_revenue() -> None:
    customer = organization("gone")
    with transaction.atomic():
        sub = apply(customer, "2025-01-10", "sub_unknown_to_stripe", price="team", start="2025-01-10")
        synced = services.subscription_sync(
            customer=customer, subscription_id="sub_unknown_to_stripe", marker=at("2025-05-01")
        )
    assert synced is not None
    assert synced.status == "canceled"
    assert list(SubscriptionRevision.objects.filter(subscription=sub).values_list("status", "mrr", "effective_at")) == [
        ("active", 1200, at("2025-01-10")),
        ("canceled", 0, at("2025-05-01")),
    ]
