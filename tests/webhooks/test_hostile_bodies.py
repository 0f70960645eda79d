"""Validly signed bodies that PostgreSQL or Python's json cannot take as they are: never a 5xx.

Each is acknowledged (2xx), stored once with the raw body byte-exact, and given a status: processed as
usual when only free text had to be sanitised, `parked` (with a note, an error log and a counter) when
the body was not understood. On the original code all four answered 500 and stored nothing.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.test import Client

from billing.models import Subscription
from billing.services import plans_sync
from tenants.base.observability import metric_values
from tests.billing.support import customer_for, deliver, events_for, subscribe
from webhooks.models import EventStatus, WebhookEvent
from webhooks.services import webhook_event_process, webhook_events_replay

pytestmark = pytest.mark.django_db


def _event(event_id: str, *, metadata: object = None, type_: str = "customer.subscription.updated") -> dict:
    obj: dict = {"id": "sub_hostile", "object": "subscription", "customer": "cus_nobody"}
    if metadata is not None:
        obj["metadata"] = metadata
    return {"id": event_id, "object": "event", "type": type_, "created": int(time.time()), "data": {"object": obj}}


def _nested(event_id: str, depth: int) -> bytes:
    """An event whose metadata holds `depth` nested arrays (raw text: json.dumps would recurse too)."""
    head = json.dumps(_event(event_id, metadata="PLACEHOLDER"))
    return head.replace('"PLACEHOLDER"', "[" * depth + "]" * depth).encode()


def _bodies() -> dict[str, bytes]:
    return {
        "nul": json.dumps(_event("evt_nul", metadata={"note": "a\u0000b"})).encode(),
        "surrogate": json.dumps(_event("evt_sur", metadata={"note": "x\ud800y"})).encode(),
        "deep_2000": _nested("evt_deep2k", 2000),
        "deep_60000": _nested("evt_deep60k", 60000),
    }


EXPECTED_STATUS = {
    "nul": EventStatus.PENDING,  # only metadata touched: processed as usual
    "surrogate": EventStatus.PENDING,
    "deep_2000": "parked",
    "deep_60000": "parked",
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_STATUS))
def test_signed_hostile_body_is_acknowledged_and_stored_byte_exact(kind: str, caplog) -> None:
    body = _bodies()[kind]
    assert b"\\u0000" in body or b"\\ud800" in body or b"[[[[" in body
    counted_before = metric_values("webhook_intake_problems")
    with caplog.at_level(logging.WARNING, logger="webhooks.services"):
        response = deliver(body)
    assert response.status_code == 200, response.content
    assert response.json()["duplicate"] is False
    assert response.json()["status"] == EXPECTED_STATUS[kind]

    row = WebhookEvent.objects.get()
    assert row.body.encode("utf-8") == body  # byte-exact
    assert row.status == EXPECTED_STATUS[kind]
    assert row.type == "customer.subscription.updated"
    assert row.parse_note  # the operator sees what was changed
    payload_text = json.dumps(row.payload)
    assert "\\u0000" not in payload_text
    assert "\\ud800" not in payload_text

    outcome = "parked" if row.status == "parked" else "sanitised"
    assert metric_values("webhook_intake_problems").get(outcome, 0) == counted_before.get(outcome, 0) + 1
    level = logging.ERROR if outcome == "parked" else logging.WARNING
    assert any(r.levelno == level and row.stripe_event_id in r.getMessage() for r in caplog.records)

    again = deliver(body)  # Stripe retries: still deduplicated
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert WebhookEvent.objects.count() == 1


def test_sanitised_text_is_reported_at_its_path() -> None:
    assert deliver(_bodies()["nul"]).status_code == 200
    row = WebhookEvent.objects.get()
    assert "data.object.metadata.note" in row.parse_note
    assert row.payload["data"]["object"]["metadata"]["note"] == "a\ufffdb"


def test_deep_parts_are_null_in_the_payload_and_kept_in_the_body() -> None:
    assert deliver(_bodies()["deep_2000"]).status_code == 200
    row = WebhookEvent.objects.get()
    assert "nested deeper than" in row.parse_note
    assert row.payload["data"]["object"]["id"] == "sub_hostile"
    assert row.body.count("[") == 2000


def test_parked_event_is_not_processed_until_replayed() -> None:
    assert deliver(_bodies()["deep_2000"]).status_code == 200
    row = WebhookEvent.objects.get()
    assert webhook_event_process(event_id=row.pk) == "parked"
    row.refresh_from_db()
    assert row.status == "parked"
    assert row.attempts == 0
    assert row.processed_at is None
    # An operator who has looked at it replays it: the handler runs on the stored (pruned) payload.
    [(stripe_id, status)] = webhook_events_replay(events=[row], inline=True)
    assert (stripe_id, status) == ("evt_deep2k", EventStatus.UNMATCHED)


def test_unstorable_text_in_a_routing_field_is_parked() -> None:
    event = _event("evt_route")
    event["data"]["object"]["customer"] = "cus_\u0000x"
    response = deliver(event)
    assert response.status_code == 200
    row = WebhookEvent.objects.get()
    assert row.status == "parked"
    assert "data.object.customer" in row.parse_note


def test_nul_in_metadata_still_applies_the_event(standin, tenant_a) -> None:
    """The handler re-fetches the subscription from Stripe; only the ids in the payload matter."""
    plans_sync()
    customer = customer_for(tenant_a)
    sub = subscribe(standin, customer, "team", 2)
    [created] = [
        e
        for e in events_for(standin, types=("customer.subscription.created",))
        if e["data"]["object"]["id"] == sub["id"]
    ]
    created["data"]["object"]["metadata"] = {"note\u0000key": "customer typed \u0000 and \ud800"}
    body = json.dumps(created).encode()
    assert deliver(body).status_code == 200
    row = WebhookEvent.objects.get(stripe_event_id=created["id"])
    assert row.status == EventStatus.PENDING
    assert row.body.encode() == body
    assert webhook_event_process(event_id=row.pk) == EventStatus.PROCESSED
    mirror = Subscription.objects.get(stripe_subscription_id=sub["id"])
    assert mirror.plan_code == "team"
    assert mirror.quantity == 2


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "evt_raw", "type": "x", "data": {"object": {"note": "a\x00b"}}}',  # raw NUL: not JSON
        b'{"id": "evt_raw", "type": "x", "data": {"object": {"n": 1e400}}}',  # overflows: jsonb refuses Infinity
        b'{"id": "evt_raw", "type": "x", "data": {"object": {"n": NaN}}}',
        b'{"id": "evt_raw", "type": "x", "data": {"object": {"note": "\xed\xa0\x80"}}}',  # UTF-8 surrogate
        b"[" * 5000 + b"]" * 5000,  # deep, but not an event at all
    ],
)
def test_signed_non_json_is_400_with_a_code(body: bytes) -> None:
    response = deliver(body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"invalid_json", "invalid_event"}
    assert not WebhookEvent.objects.exists()


def test_unsigned_hostile_body_is_refused_before_parsing() -> None:
    response = Client(HTTP_HOST="localhost").post(
        "/webhooks/stripe/", data=_bodies()["deep_60000"], content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "signature_missing"
    assert not WebhookEvent.objects.exists()
