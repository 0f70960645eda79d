"""billing.plan_changed from the real billing path: a Stripe subscription event (through the stand-in,
the webhook inbox and billing's processing) changes the plan, and the event is written in the tenant's
schema in that same transaction."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from billing import services as billing
from tenant_apps.outgoing.models import OutboxEvent
from tests.billing.support import _stripe_settings, customer_for, deliver_and_process, events_for, standin, subscribe
from tests.outgoing.support import make_endpoint

__all__ = ["_stripe_settings", "standin"]

pytestmark = pytest.mark.django_db


def test_subscription_to_team_announces_billing_plan_changed(standin, tenant_a, receiver_factory, settings):
    settings.BILLING_PLANS = {k: v for k, v in settings.BILLING_PLANS.items() if k != "test"}
    settings.BILLING_DEFAULT_PLAN = "free"
    receiver = receiver_factory()
    make_endpoint(tenant_a, receiver.url, ["billing.plan_changed"])
    billing.plans_sync()
    sub = subscribe(standin, customer_for(tenant_a), "team", 1)
    created = next(e for e in events_for(standin, types=("customer.subscription.created",)))
    deliver_and_process(created)
    with schema_context(tenant_a.schema_name):
        [event] = [json.loads(b) for b in OutboxEvent.objects.values_list("body", flat=True)]
    assert event["type"] == "billing.plan_changed"
    assert event["data"]["object"] == {"plan": "team", "previous_plan": "free", "organization": "alpha"}
    # Mirroring the same subscription again (reconciliation's re-fetch) changes no plan: no second event.
    billing.subscription_sync(customer=customer_for(tenant_a), subscription_id=sub["id"])
    with schema_context(tenant_a.schema_name):
        assert OutboxEvent.objects.count() == 1
