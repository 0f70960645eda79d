"""POST /webhooks/stripe/: every rejection stores nothing; a valid event is stored once."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from tests.billing.support import OLD_SECRET, SECRET, deliver
from webhooks.models import EventStatus, WebhookEvent
from webhooks.signature import sign

pytestmark = pytest.mark.django_db


def event(event_id: str = "evt_test_1", type_: str = "customer.created") -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "cus_x", "object": "customer"}},
    }


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_valid_event_is_stored_pending_and_acknowledged() -> None:
    response = deliver(event())
    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    row = WebhookEvent.objects.get(stripe_event_id="evt_test_1")
    assert row.status == EventStatus.PENDING
    assert row.type == "customer.created"
    assert json.loads(row.body)["id"] == "evt_test_1"


def test_duplicate_is_acknowledged_and_not_stored_twice() -> None:
    assert deliver(event()).status_code == 200
    response = deliver(event())
    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    assert WebhookEvent.objects.filter(stripe_event_id="evt_test_1").count() == 1


def test_secret_rotation_accepts_the_previous_secret() -> None:
    assert deliver(event(), secret=OLD_SECRET).status_code == 200


def test_several_v1_signatures_one_valid() -> None:
    body = json.dumps(event()).encode()
    ts = int(time.time())
    good = sign(body=body, secret=SECRET, timestamp=ts).split("v1=")[1]
    header = f"t={ts},v1={'0' * 64},v1={good}"
    response = Client(HTTP_HOST="localhost").post(
        "/webhooks/stripe/", data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("secret", "age_s", "code"),
    [
        ("whsec_wrong", 0, "signature_invalid"),
        (SECRET, 301, "signature_expired"),
        (SECRET, -400, "signature_future"),
    ],
)
def test_bad_signatures_are_rejected(secret: str, age_s: int, code: str) -> None:
    # The timestamp is taken now, when the test runs: one computed at collection goes stale (by
    # more than the 300 s tolerance) when the suite takes long to reach this test.
    response = deliver(event(), secret=secret, timestamp=int(time.time()) - age_s)
    assert response.status_code == 400
    assert error_code(response) == code
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "signature_missing"),
        ("garbage", "signature_malformed"),
        ("t=abc,v1=00", "signature_malformed"),
        ("t=1", "signature_malformed"),
    ],
)
def test_missing_or_malformed_header(header: str | None, code: str) -> None:
    extra = {} if header is None else {"HTTP_STRIPE_SIGNATURE": header}
    response = Client(HTTP_HOST="localhost").post(
        "/webhooks/stripe/", data=json.dumps(event()), content_type="application/json", **extra
    )
    assert response.status_code == 400
    assert error_code(response) == code
    assert not WebhookEvent.objects.exists()


def test_tampered_body_is_rejected() -> None:
    body = json.dumps(event()).encode()
    header = sign(body=body, secret=SECRET)
    tampered = body.replace(b"cus_x", b"cus_y")
    response = Client(HTTP_HOST="localhost").post(
        "/webhooks/stripe/", data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    assert error_code(response) == "signature_invalid"
    assert not WebhookEvent.objects.exists()


def test_oversized_body_is_413(settings) -> None:
    settings.STRIPE_WEBHOOK_MAX_BYTES = 1024
    big = event()
    big["data"]["object"]["pad"] = "x" * 2000
    response = deliver(big)
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[1, 2]", "invalid_event"),
        (b'{"type": "x"}', "invalid_event"),
        (b'{"id": "evt_1"}', "invalid_event"),
        (b'{"id": 5, "type": "x"}', "invalid_event"),
        (b'{"id": "evt_1", "type": "x", "data": []}', "invalid_event"),
    ],
)
def test_signed_but_not_an_event_is_400(body: bytes, code: str) -> None:
    response = deliver(body)
    assert response.status_code == 400
    assert error_code(response) == code
    assert not WebhookEvent.objects.exists()


def test_get_is_not_allowed() -> None:
    assert Client(HTTP_HOST="localhost").get("/webhooks/stripe/").status_code == 405


def test_enqueue_happens_on_commit(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliver(event())
    assert len(callbacks) == 1
