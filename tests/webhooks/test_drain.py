"""The drain (issue 17): pending events applied per customer in one transaction, with one Stripe read per
object, each event still ending with its own recorded status; a failing event does not hold back the
others; the lean ingest path in front of the middleware stack; the drain flag."""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.test import Client

from billing.handlers import BatchStats, handle_events
from billing.models import Subscription
from billing.services import plans_sync
from tenants.base.observability import REQUEST_ID_HEADER
from tenants.models import Tenant, TenantStatus
from tests.billing.support import body_of, customer_for, deliver, event_for, signed_headers, standin_call, subscribe
from tests.support.clients import host_of
from webhooks.models import EventStatus, WebhookEvent
from webhooks.services import DRAIN_FLAG, _flag_client, webhook_drain_kick, webhook_events_drain

pytestmark = pytest.mark.django_db


def _event(event_id: str, type_: str, obj: dict) -> dict:
    return {"id": event_id, "object": "event", "type": type_, "created": int(time.time()), "data": {"object": obj}}


def _subscription_with_history(standin, tenant):
    """A subscription created, then changed twice in the stand-in: the events of each step, and
    Stripe's final state."""
    plans_sync()
    customer = customer_for(tenant)
    sub = subscribe(standin, customer, "team", 1)
    item_id = sub["items"]["data"][0]["id"]
    created = event_for(standin, "customer.subscription.created", sub["id"])
    paid = event_for(standin, "invoice.paid", sub["id"])
    count = len(standin.events())
    standin_call(standin, "POST", f"/v1/subscriptions/{sub['id']}", {"items": [{"id": item_id, "quantity": 4}]})
    first_update = event_for(standin, "customer.subscription.updated", sub["id"], after=count)
    count = len(standin.events())
    standin_call(standin, "POST", f"/v1/subscriptions/{sub['id']}", {"items": [{"id": item_id, "quantity": 7}]})
    second_update = event_for(standin, "customer.subscription.updated", sub["id"], after=count)
    final = standin_call(standin, "GET", f"/v1/subscriptions/{sub['id']}")
    return customer, sub, [created, paid, first_update, second_update], final


def test_a_drain_applies_each_pending_event_once_with_its_own_status(standin, tenant_a) -> None:
    _customer, sub, events, final = _subscription_with_history(standin, tenant_a)
    ignored = _event("evt_drain_ignored", "payout.paid", {"id": "po_1"})
    unmatched = _event(
        "evt_drain_unmatched", "customer.subscription.updated", {"id": "sub_x", "customer": "cus_nobody"}
    )
    for event in [*events, ignored, unmatched]:
        assert deliver(event).status_code == 200

    assert webhook_events_drain() == len(events) + 2

    rows = {row.stripe_event_id: row for row in WebhookEvent.objects.all()}
    for event in events:
        row = rows[event["id"]]
        assert (row.status, row.attempts, row.tenant_id) == (EventStatus.PROCESSED, 1, tenant_a.pk), event["type"]
        assert row.processed_at is not None
        assert row.last_error == ""
    assert (rows[ignored["id"]].status, rows[ignored["id"]].attempts) == (EventStatus.IGNORED, 1)
    assert (rows[unmatched["id"]].status, rows[unmatched["id"]].attempts) == (EventStatus.UNMATCHED, 1)
    mirror = Subscription.objects.get(stripe_subscription_id=sub["id"])
    assert (mirror.status, mirror.quantity) == (final["status"], 7)
    assert Tenant.objects.get(pk=tenant_a.pk).status == TenantStatus.ACTIVE

    # Nothing is left: a second drain applies nothing again.
    assert webhook_events_drain() == 0
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}


def test_events_of_one_customer_share_one_stripe_read_per_object(standin, tenant_a) -> None:
    _customer, sub, events, final = _subscription_with_history(standin, tenant_a)
    stats = BatchStats()
    with transaction.atomic():
        outcomes = handle_events(events, stats=stats)
    assert [o.status for o in outcomes] == ["processed"] * 4
    assert {o.tenant_id for o in outcomes} == {tenant_a.pk}
    # invoice.paid reads the invoice with its subscription expanded: that one read serves the three
    # subscription events too, which then need no run of their own.
    assert (stats.fetches, stats.runs, stats.customers) == (1, 1, 1)
    mirror = Subscription.objects.get(stripe_subscription_id=sub["id"])
    assert (mirror.status, mirror.quantity) == (final["status"], 7)


def test_a_failing_event_does_not_hold_back_the_others(standin, tenant_a, settings) -> None:
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60.0  # the retry is due 30-60 s later, well after this test
    customer, sub, events, _final = _subscription_with_history(standin, tenant_a)
    # Same customer, so the same batch; the charge does not exist in Stripe, so its handler raises.
    broken = _event(
        "evt_drain_broken",
        "charge.refunded",
        {"id": "ch_missing", "object": "charge", "customer": customer.stripe_customer_id},
    )
    for event in [events[0], broken, events[3]]:
        assert deliver(event).status_code == 200

    webhook_events_drain()

    good = WebhookEvent.objects.filter(stripe_event_id__in=[events[0]["id"], events[3]["id"]])
    assert {(row.status, row.attempts) for row in good} == {(EventStatus.PROCESSED, 1)}
    failed = WebhookEvent.objects.get(stripe_event_id=broken["id"])
    assert (failed.status, failed.attempts) == (EventStatus.PENDING, 1)
    assert failed.last_error
    assert failed.enqueued_at is not None
    assert failed.enqueued_at.timestamp() > time.time()
    assert Subscription.objects.get(stripe_subscription_id=sub["id"]).quantity == 7
    # Not due yet: another drain leaves it alone.
    assert webhook_events_drain() == 0
    assert WebhookEvent.objects.get(pk=failed.pk).attempts == 1


def test_the_webhook_is_answered_before_the_rest_of_the_middleware() -> None:
    event = _event("evt_fast_path", "payout.paid", {"id": "po_1"})
    response = deliver(event)
    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    assert response.has_header(REQUEST_ID_HEADER)  # the request context (id, counters, log) still runs
    # Headers the full stack adds to every other answer (CSP, clickjacking): this one skipped it.
    assert not response.has_header("Content-Security-Policy")
    assert not response.has_header("X-Frame-Options")
    row = WebhookEvent.objects.get(stripe_event_id="evt_fast_path")
    assert row.payload["data"]["object"]["id"] == "po_1"
    assert row.status == EventStatus.PENDING


def test_an_organization_host_has_no_webhook_endpoint(tenant_a) -> None:
    body = body_of(_event("evt_tenant_host", "payout.paid", {"id": "po_1"}))
    response = Client(HTTP_HOST=host_of(tenant_a)).post(
        "/webhooks/stripe/", data=body, content_type="application/json", **signed_headers(body)
    )
    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()


def test_a_queued_drain_makes_further_ingests_send_nothing() -> None:
    client = _flag_client()  # the broker's Valkey: the flag lives with the messages
    client.set(DRAIN_FLAG, b"1", px=2000)  # a drain is queued (an earlier ingest sent it)
    queued = client.llen("webhooks")
    assert webhook_drain_kick() is True  # the event will be seen by that drain: nothing sent
    assert client.llen("webhooks") == queued
    assert 0 < client.pttl(DRAIN_FLAG) <= 2000  # untouched; it expires by itself if the message is lost
    webhook_events_drain()  # a drain clears it before it looks for events
    assert client.get(DRAIN_FLAG) is None
    # With no drain queued, the next kick sends one (and sets the flag again).
    assert webhook_drain_kick() is True
