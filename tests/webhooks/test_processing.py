"""Processing: dispatch, idempotency, any order ends in Stripe's state, retries, isolation."""

from __future__ import annotations

import itertools
import time

import pytest
from django.core.management import call_command
from django.db import transaction

from billing.models import Subscription
from billing.selectors import entitlements_for_tenant
from billing.services import plans_sync
from tenants.models import Tenant, TenantStatus
from tests.billing.support import customer_for, deliver, deliver_and_process, events_for, standin_call, subscribe
from webhooks.models import EventStatus, WebhookEvent
from webhooks.services import ProcessingError, webhook_event_process

pytestmark = pytest.mark.django_db

SUB_TYPES = ("customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted")


def _event(event_id: str, type_: str, obj: dict) -> dict:
    return {"id": event_id, "object": "event", "type": type_, "created": int(time.time()), "data": {"object": obj}}


def _sub_events(standin, sub_id: str, types: tuple[str, ...]) -> list[dict]:
    chosen: dict[str, dict] = {}
    for e in events_for(standin, types=types):
        obj = e["data"]["object"]
        owner = obj["id"] if e["type"].startswith("customer.subscription") else _invoice_sub(obj)
        if owner == sub_id and e["type"] not in chosen:
            chosen[e["type"]] = e
    assert set(chosen) == set(types), sorted(chosen)
    return [chosen[t] for t in types]


def _invoice_sub(obj: dict) -> str:
    parent = obj.get("parent") or {}
    return ((parent.get("subscription_details") or {}).get("subscription")) or obj.get("subscription") or ""


def _item_quantity(sub: dict) -> int:
    return int(sub["items"]["data"][0]["quantity"])


@pytest.mark.usefixtures("standin")
def test_unknown_customer_is_unmatched() -> None:
    row = deliver_and_process(
        _event("evt_u1", "customer.subscription.updated", {"id": "sub_x", "customer": "cus_nobody"})
    )
    assert row.status == EventStatus.UNMATCHED
    assert not Subscription.objects.exists()


def test_unhandled_type_is_ignored() -> None:
    row = deliver_and_process(_event("evt_i1", "payout.paid", {"id": "po_1"}))
    assert row.status == EventStatus.IGNORED


def test_processing_twice_applies_once(standin, tenant_a) -> None:
    plans_sync()
    customer = customer_for(tenant_a)
    sub = subscribe(standin, customer, "team", 2)
    [created] = _sub_events(standin, sub["id"], ("customer.subscription.created",))
    row = deliver_and_process(created)
    assert row.status == EventStatus.PROCESSED
    assert row.tenant_id == tenant_a.pk
    assert webhook_event_process(event_id=row.pk) == EventStatus.PROCESSED
    row.refresh_from_db()
    assert row.attempts == 1
    mirror = Subscription.objects.get(stripe_subscription_id=sub["id"])
    assert mirror.plan_code == "team"
    assert mirror.quantity == 2
    assert mirror.status == sub["status"]
    assert entitlements_for_tenant(tenant=tenant_a).plan == "team"


@pytest.mark.parametrize("with_delete", [False, True])
def test_every_order_ends_in_stripe_state(standin, tenant_a, with_delete: bool) -> None:
    plans_sync()
    customer = customer_for(tenant_a)
    sub = subscribe(standin, customer, "team", 1)
    item_id = sub["items"]["data"][0]["id"]
    standin_call(standin, "POST", f"/v1/subscriptions/{sub['id']}", {"items": [{"id": item_id, "quantity": 3}]})
    types = ["customer.subscription.created", "customer.subscription.updated", "invoice.paid"]
    if with_delete:
        standin_call(standin, "DELETE", f"/v1/subscriptions/{sub['id']}")
        types.append("customer.subscription.deleted")
    final = standin_call(standin, "GET", f"/v1/subscriptions/{sub['id']}")
    events = _sub_events(standin, sub["id"], tuple(types))
    for order in itertools.permutations(events):
        savepoint = transaction.savepoint()
        for event in order:
            assert deliver_and_process(event).status == EventStatus.PROCESSED
        mirror = Subscription.objects.get(stripe_subscription_id=sub["id"])
        assert mirror.status == final["status"], [e["type"] for e in order]
        assert mirror.quantity == _item_quantity(final)
        assert mirror.cancel_at_period_end == final["cancel_at_period_end"]
        tenant = Tenant.objects.get(pk=tenant_a.pk)
        if with_delete:
            assert final["status"] == "canceled"
            assert tenant.status == TenantStatus.CLOSED
            assert entitlements_for_tenant(tenant=tenant).plan == "free"
        else:
            assert tenant.status == TenantStatus.ACTIVE
            assert entitlements_for_tenant(tenant=tenant).plan == "team"
        transaction.savepoint_rollback(savepoint)


def test_failure_is_retried_then_applied_once(standin, tenant_a, settings) -> None:
    plans_sync()
    customer = customer_for(tenant_a)
    sub = subscribe(standin, customer, "team", 1)
    [created] = _sub_events(standin, sub["id"], ("customer.subscription.created",))
    assert deliver(created).status_code == 200
    row = WebhookEvent.objects.get(stripe_event_id=created["id"])
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:1"  # Stripe unreachable mid-processing
    with pytest.raises(ProcessingError) as info:
        webhook_event_process(event_id=row.pk)
    assert not info.value.final
    row.refresh_from_db()
    assert row.status == EventStatus.PENDING
    assert row.attempts == 1
    assert row.last_error
    assert not Subscription.objects.exists()
    settings.STRIPE_API_BASE = base
    assert webhook_event_process(event_id=row.pk) == EventStatus.PROCESSED
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.last_error == ""
    assert Subscription.objects.filter(stripe_subscription_id=sub["id"]).count() == 1


def test_parks_as_failed_then_replay_command(standin, tenant_a, settings) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    plans_sync()
    customer = customer_for(tenant_a)
    sub = subscribe(standin, customer, "team", 1)
    [created] = _sub_events(standin, sub["id"], ("customer.subscription.created",))
    deliver(created)
    row = WebhookEvent.objects.get(stripe_event_id=created["id"])
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:1"
    with pytest.raises(ProcessingError) as info:
        webhook_event_process(event_id=row.pk)
    assert info.value.final
    row.refresh_from_db()
    assert row.status == EventStatus.FAILED
    assert webhook_event_process(event_id=row.pk) == EventStatus.FAILED  # parked: not retried by itself
    settings.STRIPE_API_BASE = base
    call_command("replay_webhooks", "--failed")
    row.refresh_from_db()
    assert row.status == EventStatus.PROCESSED
    assert Subscription.objects.filter(stripe_subscription_id=sub["id"]).exists()


def test_event_for_tenant_a_never_writes_tenant_b(standin, tenant_a, tenant_b) -> None:
    plans_sync()
    customer_a = customer_for(tenant_a)
    customer_b = customer_for(tenant_b)
    sub_a = subscribe(standin, customer_a, "team", 1)
    events = _sub_events(standin, sub_a["id"], ("customer.subscription.created", "invoice.paid"))
    for event in events:
        deliver_and_process(event)
    assert Subscription.objects.filter(tenant=tenant_a).count() == 1
    assert not Subscription.objects.filter(tenant=tenant_b).exists()
    assert Tenant.objects.get(pk=tenant_b.pk).status == tenant_b.status
    # A forged event naming B's customer but A's subscription is refused (the re-fetch disagrees).
    forged = _event(
        "evt_forged", "customer.subscription.updated", {"id": sub_a["id"], "customer": customer_b.stripe_customer_id}
    )
    row = deliver_and_process_expect_failure(forged)
    assert row.status == EventStatus.PENDING
    assert "does not belong" in row.last_error
    assert not Subscription.objects.filter(tenant=tenant_b).exists()


def deliver_and_process_expect_failure(event: dict) -> WebhookEvent:
    deliver(event)
    row = WebhookEvent.objects.get(stripe_event_id=event["id"])
    with pytest.raises(ProcessingError):
        webhook_event_process(event_id=row.pk)
    row.refresh_from_db()
    return row
