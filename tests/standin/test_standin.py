"""The local Stripe stand-in, driven through the real stripe SDK (no Django involved)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

from deploy.stripe_standin.constants import API_VERSION
from deploy.stripe_standin.server import StandinServer
from deploy.stripe_standin.webhooks import sign_payload

pytestmark: list[Any] = []

SECRET = "whsec_standin_test_secret"


# ---------------------------------------------------------------------------------------------------
# A tiny webhook receiver that verifies signatures with the SDK itself
# ---------------------------------------------------------------------------------------------------
class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []  # verified, accepted deliveries (parsed JSON)
        self.bad_signatures: list[str] = []
        self.attempts = 0
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sig = self.headers.get("Stripe-Signature", "")
                with receiver.lock:
                    receiver.attempts += 1
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        self.send_response(500)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                try:
                    stripe.WebhookSignature.verify_header(raw.decode("utf-8"), sig, SECRET, tolerance=300)
                    event = stripe.Webhook.construct_event(raw, sig, SECRET)
                except stripe.SignatureVerificationError as exc:
                    with receiver.lock:
                        receiver.bad_signatures.append(str(exc))
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                assert isinstance(event, stripe.Event)
                with receiver.lock:
                    receiver.events.append({"raw": json.loads(raw), "sig": sig, "sdk_type": event.type})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks/stripe/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def mark(self) -> int:
        with self.lock:
            return len(self.events)

    def since(self, mark: int) -> list[dict[str, Any]]:
        with self.lock:
            return [e["raw"] for e in self.events[mark:]]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.thread.start()
    yield rec
    rec.httpd.shutdown()
    rec.httpd.server_close()


@pytest.fixture(scope="module")
def standin(receiver: Receiver) -> Iterator[StandinServer]:
    srv = StandinServer(
        host="127.0.0.1",
        port=0,
        webhook_url=receiver.url,
        webhook_secret=f"{SECRET},whsec_rotated_out",
        retry_delays=(0.05, 0.1),
    ).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(standin: StandinServer) -> stripe.StripeClient:
    return stripe.StripeClient(api_key="sk_test_local", base_addresses={"api": standin.url}, max_network_retries=0)


@pytest.fixture
def plan(client: stripe.StripeClient) -> dict[str, Any]:
    """A product with a monthly and a yearly price under unique lookup keys."""
    tag = uuid.uuid4().hex[:8]
    product = client.v1.products.create(params={"name": f"Pro {tag}"})
    monthly = client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 2000,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "lookup_key": f"pro_monthly_{tag}",
        }
    )
    business = client.v1.prices.create(
        params={
            "product_data": {"name": f"Business {tag}"},
            "unit_amount": 5000,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "lookup_key": f"business_monthly_{tag}",
        }
    )
    return {"product": product, "monthly": monthly, "business": business, "tag": tag}


def _mark(standin: StandinServer, receiver: Receiver) -> int:
    """Position in the receiver's log after everything sent so far has arrived."""
    assert standin.flush_webhooks(5)
    return receiver.mark()


def _types(events: list[dict[str, Any]], obj_ids: set[str] | None = None) -> list[str]:
    out = []
    for e in events:
        obj = e["data"]["object"]
        parent_sub = ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        if obj_ids is None or obj.get("id") in obj_ids or parent_sub in obj_ids:
            out.append(e["type"])
    return out


def _is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(x == y for y in it) for x in needle)


def _subscription_of(invoice: Any) -> str:
    return invoice.parent.subscription_details.subscription


# ---------------------------------------------------------------------------------------------------
# customers, prices
# ---------------------------------------------------------------------------------------------------
def test_customer_create_retrieve_update_list(client: stripe.StripeClient) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    cus = client.v1.customers.create(params={"email": email, "name": "Ada", "metadata": {"tenant": "acme"}})
    assert isinstance(cus, stripe.Customer)
    assert cus.id.startswith("cus_")
    assert (cus.email, cus.name, cus.metadata["tenant"]) == (email, "Ada", "acme")

    other = client.v1.customers.create(params={"email": f"other-{email}"})
    fetched = client.v1.customers.retrieve(cus.id)
    assert fetched.id == cus.id
    assert fetched.email == email

    updated = client.v1.customers.update(cus.id, params={"name": "Ada L.", "metadata": {"tenant": "", "plan": "pro"}})
    assert updated.name == "Ada L."
    assert updated.metadata.to_dict() == {"plan": "pro"}

    listed = client.v1.customers.list(params={"email": email})
    assert [c.id for c in listed.data] == [cus.id]
    assert other.id not in [c.id for c in listed.data]


def test_list_pagination_with_auto_paging(client: stripe.StripeClient) -> None:
    email = f"page-{uuid.uuid4().hex[:8]}@example.com"
    ids = [client.v1.customers.create(params={"email": email}).id for _ in range(5)]
    page = client.v1.customers.list(params={"email": email, "limit": 2})
    assert len(page.data) == 2
    assert page.has_more is True
    seen = [c.id for c in page.auto_paging_iter()]
    assert seen == list(reversed(ids))  # newest first, every object exactly once


def test_price_lookup_keys_and_transfer(client: stripe.StripeClient, plan: dict[str, Any]) -> None:
    key = f"pro_monthly_{plan['tag']}"
    found = client.v1.prices.list(params={"lookup_keys": [key], "active": True, "expand": ["data.product"]})
    assert [p.id for p in found.data] == [plan["monthly"].id]
    assert found.data[0].product.id == plan["product"].id  # expanded
    assert found.data[0].recurring.interval == "month"

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.create(
            params={
                "product": plan["product"].id,
                "unit_amount": 2500,
                "currency": "usd",
                "recurring": {"interval": "month"},
                "lookup_key": key,
            }
        )
    assert exc.value.param == "lookup_key"

    moved = client.v1.prices.create(
        params={
            "product": plan["product"].id,
            "unit_amount": 2500,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "lookup_key": key,
            "transfer_lookup_key": True,
        }
    )
    found = client.v1.prices.list(params={"lookup_keys": [key]})
    assert [p.id for p in found.data] == [moved.id]
    assert client.v1.prices.retrieve(plan["monthly"].id).lookup_key is None


# ---------------------------------------------------------------------------------------------------
# subscriptions
# ---------------------------------------------------------------------------------------------------
def test_subscription_create_creates_paid_invoice(client: stripe.StripeClient, plan: dict[str, Any]) -> None:
    cus = client.v1.customers.create(params={"email": "sub@example.com"})
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": plan["monthly"].id, "quantity": 2}],
            "metadata": {"tenant": "acme"},
            "expand": ["latest_invoice"],
        }
    )
    assert isinstance(sub, stripe.Subscription)
    assert sub.id.startswith("sub_")
    assert sub.status == "active"
    assert sub.customer == cus.id
    item = sub.items.data[0]
    assert item.id.startswith("si_")
    assert item.quantity == 2
    assert item.price.id == plan["monthly"].id
    assert item.price.unit_amount == 2000
    assert item.current_period_end > item.current_period_start >= sub.created
    assert "current_period_end" not in sub.to_dict()  # lives on the items in this API version

    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert invoice.id.startswith("in_")
    assert invoice.status == "paid"
    assert (invoice.amount_due, invoice.amount_paid, invoice.amount_remaining) == (4000, 4000, 0)
    assert _subscription_of(invoice) == sub.id
    assert invoice.billing_reason == "subscription_create"
    assert invoice.number
    assert invoice.hosted_invoice_url
    assert invoice.invoice_pdf
    assert invoice.lines.data[0].parent.subscription_item_details.subscription_item == item.id

    listed = client.v1.invoices.list(params={"subscription": sub.id})
    assert [i.id for i in listed.data] == [invoice.id]
    payments = client.v1.invoice_payments.list(params={"invoice": invoice.id})
    charge = client.v1.charges.retrieve(payments.data[0].payment.charge)
    assert charge.id.startswith("ch_")
    assert charge.status == "succeeded"
    assert charge.amount == 4000

    pdf = httpx.get(invoice.invoice_pdf)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")


def test_quantity_update_and_cancel(
    client: stripe.StripeClient, plan: dict[str, Any], standin: StandinServer, receiver: Receiver
) -> None:
    cus = client.v1.customers.create(params={"email": "qty@example.com"})
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": plan["monthly"].id}]})
    item_id = sub.items.data[0].id
    mark = _mark(standin, receiver)

    updated = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item_id, "quantity": 3}], "proration_behavior": "none"}
    )
    assert updated.items.data[0].quantity == 3
    item = client.v1.subscription_items.update(item_id, params={"quantity": 4, "proration_behavior": "none"})
    assert item.quantity == 4
    assert client.v1.subscriptions.retrieve(sub.id).items.data[0].quantity == 4

    # Top-level `quantity` is not a parameter of this API version: Stripe rejects it, so do we.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.update(sub.id, params={"quantity": 5})
    assert (exc.value.code, exc.value.param) == ("parameter_unknown", "quantity")

    at_end = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert at_end.cancel_at_period_end is True
    assert at_end.cancel_at == at_end.items.data[0].current_period_end

    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    assert canceled.ended_at is not None
    assert sub.id not in [s.id for s in client.v1.subscriptions.list(params={"customer": cus.id}).data]
    assert sub.id in [s.id for s in client.v1.subscriptions.list(params={"customer": cus.id, "status": "all"}).data]

    assert standin.flush_webhooks(5)
    events = [e for e in receiver.since(mark) if e["data"]["object"].get("id") == sub.id]
    assert [e["type"] for e in events] == [
        "customer.subscription.updated",
        "customer.subscription.updated",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    ]
    prev_items = events[0]["data"]["previous_attributes"]["items"]["data"][0]
    assert prev_items["quantity"] == 1
    assert events[2]["data"]["previous_attributes"]["cancel_at_period_end"] is False


def test_proration_always_invoice_bills_the_difference(client: stripe.StripeClient, plan: dict[str, Any]) -> None:
    cus = client.v1.customers.create(params={"email": "prorate@example.com"})
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": plan["monthly"].id}]})
    first = sub.latest_invoice
    upgraded = client.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": sub.items.data[0].id, "price": plan["business"].id}],
            "proration_behavior": "always_invoice",
            "expand": ["latest_invoice"],
        },
    )
    invoice = upgraded.latest_invoice
    assert invoice.id != first
    assert invoice.billing_reason == "subscription_update"
    assert invoice.status == "paid"
    amounts = sorted(line.amount for line in invoice.lines.data)
    assert amounts[0] < 0 < amounts[1]  # credit for unused Pro, charge for remaining Business
    assert 2900 <= invoice.total <= 3000  # ~ (5000 - 2000) for almost the whole period


# ---------------------------------------------------------------------------------------------------
# idempotency, errors, auth
# ---------------------------------------------------------------------------------------------------
def test_idempotency_replay_and_conflict(client: stripe.StripeClient, standin: StandinServer) -> None:
    key = f"idem-{uuid.uuid4().hex}"
    email = f"{key}@example.com"
    first = client.v1.customers.create(params={"email": email}, options={"idempotency_key": key})
    second = client.v1.customers.create(params={"email": email}, options={"idempotency_key": key})
    assert first.id == second.id
    assert len(client.v1.customers.list(params={"email": email}).data) == 1

    raw = httpx.post(
        f"{standin.url}/v1/customers",
        data={"email": email},
        headers={"Authorization": "Bearer sk_test_local", "Idempotency-Key": key},
    )
    assert raw.status_code == 200
    assert raw.headers["Idempotent-Replayed"] == "true"
    assert raw.json()["id"] == first.id

    with pytest.raises(stripe.IdempotencyError) as exc:
        client.v1.customers.create(params={"email": f"other-{email}"}, options={"idempotency_key": key})
    assert exc.value.http_status == 400
    assert exc.value.json_body["error"]["type"] == "idempotency_error"
    assert len(client.v1.customers.list(params={"email": f"other-{email}"}).data) == 0


def test_unknown_id_is_a_stripe_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.retrieve("sub_doesnotexist")
    err = exc.value
    assert err.http_status == 404
    assert err.code == "resource_missing"
    assert err.param == "id"
    assert err.json_body["error"]["type"] == "invalid_request_error"
    assert "sub_doesnotexist" in err.json_body["error"]["message"]

    # A missing object referenced from a parameter is a 400 naming the parameter.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.create(params={"customer": "cus_missing", "items": [{"price": "price_x"}]})
    assert exc.value.http_status == 400
    assert exc.value.param == "customer"


def test_missing_api_key_is_401(standin: StandinServer) -> None:
    resp = httpx.get(f"{standin.url}/v1/customers")
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "invalid_request_error"
    bad = stripe.StripeClient(api_key="pk_test_wrong", base_addresses={"api": standin.url})
    with pytest.raises(stripe.AuthenticationError):
        bad.v1.customers.list()
    assert httpx.get(f"{standin.url}/v1/nothing", headers={"Authorization": "Bearer sk_x"}).status_code == 404


def test_failed_request_is_rolled_back(client: stripe.StripeClient, standin: StandinServer) -> None:
    name = f"Ghost {uuid.uuid4().hex[:6]}"
    before = len(standin.events())
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.create(
            params={
                "product_data": {"name": name},
                "unit_amount": 100,
                "currency": "usd",
                "recurring": {"interval": "fortnight"},
            }
        )
    assert exc.value.param == "recurring[interval]"
    assert name not in [p.name for p in client.v1.products.list(params={"limit": 100}).data]
    assert len(standin.events()) == before


# ---------------------------------------------------------------------------------------------------
# checkout, portal
# ---------------------------------------------------------------------------------------------------
def test_checkout_session_flow(
    client: stripe.StripeClient, plan: dict[str, Any], standin: StandinServer, receiver: Receiver
) -> None:
    cus = client.v1.customers.create(params={"email": "checkout@example.com"})
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": cus.id,
            "line_items": [{"price": plan["monthly"].id, "quantity": 3}],
            "success_url": "http://app.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://app.test/billing/cancel",
            "client_reference_id": "tenant-42",
            "metadata": {"tenant": "acme"},
            "subscription_data": {"metadata": {"tenant": "acme", "plan": "pro"}},
        }
    )
    assert isinstance(session, stripe.checkout.Session)
    assert session.id.startswith("cs_")
    assert session.status == "open"
    assert session.amount_total == 6000
    assert session.url == f"{standin.public_url}/checkout/{session.id}"

    page = httpx.get(session.url)
    assert page.status_code == 200
    assert f"action='/checkout/{session.id}/complete'" in page.text
    assert ">Pay</button>" in page.text
    assert f"action='/checkout/{session.id}/fail'" in page.text
    assert ">Fail payment</button>" in page.text

    failed = httpx.post(f"{standin.url}/checkout/{session.id}/fail")
    assert failed.status_code == 303
    assert failed.headers["Location"] == "http://app.test/billing/cancel"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"

    mark = _mark(standin, receiver)
    done = httpx.post(f"{standin.url}/checkout/{session.id}/complete")
    assert done.status_code == 303
    assert done.headers["Location"] == f"http://app.test/billing/success?session_id={session.id}"

    completed = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription", "line_items"]})
    assert completed.status == "complete"
    assert completed.payment_status == "paid"
    sub = completed.subscription
    assert isinstance(sub, stripe.Subscription)
    assert sub.status == "active"
    assert sub.customer == cus.id
    assert sub.items.data[0].quantity == 3
    assert sub.metadata.to_dict() == {"tenant": "acme", "plan": "pro"}
    assert completed.line_items.data[0].price.id == plan["monthly"].id

    assert standin.flush_webhooks(5)
    events = receiver.since(mark)
    types = [e["type"] for e in events]
    assert _is_subsequence(
        ["customer.subscription.created", "invoice.finalized", "invoice.paid", "checkout.session.completed"], types
    ), types
    assert not receiver.bad_signatures
    by_type = {e["type"]: e for e in events}
    cs_obj = by_type["checkout.session.completed"]["data"]["object"]
    assert cs_obj["client_reference_id"] == "tenant-42"
    assert cs_obj["subscription"] == sub.id
    assert by_type["invoice.paid"]["data"]["object"]["parent"]["subscription_details"]["subscription"] == sub.id
    for e in events:
        assert e["object"] == "event"
        assert e["id"].startswith("evt_")
        assert e["api_version"] == API_VERSION
        assert e["livemode"] is False
    created = [e["created"] for e in events]
    assert created == sorted(created)

    # A completed session cannot be paid twice.
    assert httpx.post(f"{standin.url}/checkout/{session.id}/complete").status_code == 400


def test_checkout_with_trial_then_trial_end(
    client: stripe.StripeClient, plan: dict[str, Any], standin: StandinServer, receiver: Receiver
) -> None:
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer_email": "trial@example.com",
            "line_items": [{"price": plan["monthly"].id, "quantity": 1}],
            "success_url": "http://app.test/ok",
            "subscription_data": {"trial_period_days": 14},
        }
    )
    assert httpx.post(f"{standin.url}/checkout/{session.id}/complete").status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert done.payment_status == "no_payment_required"
    sub = client.v1.subscriptions.retrieve(done.subscription, params={"expand": ["latest_invoice", "customer"]})
    assert sub.status == "trialing"
    assert sub.trial_end is not None
    assert sub.customer.email == "trial@example.com"
    assert sub.latest_invoice.amount_due == 0
    assert sub.latest_invoice.status == "paid"

    mark = _mark(standin, receiver)
    result = httpx.post(f"{standin.url}/_standin/advance", data={"subscription": sub.id, "action": "trial_end"})
    assert result.status_code == 200
    after = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert after.status == "active"
    assert after.items.data[0].current_period_start == sub.trial_end
    assert after.latest_invoice.amount_paid == 2000
    assert after.latest_invoice.billing_reason == "subscription_cycle"
    assert standin.flush_webhooks(5)
    types = _types(receiver.since(mark), {sub.id})
    assert types[0] == "customer.subscription.trial_will_end"
    assert _is_subsequence(["invoice.paid", "customer.subscription.updated"], types)


def test_portal_change_plan_and_cancel(
    client: stripe.StripeClient, plan: dict[str, Any], standin: StandinServer, receiver: Receiver
) -> None:
    cus = client.v1.customers.create(params={"email": "portal@example.com"})
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": plan["monthly"].id}]})
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": cus.id, "return_url": "http://app.test/settings/billing"}
    )
    assert isinstance(portal, stripe.billing_portal.Session)
    assert portal.id.startswith("bps_")
    assert portal.url.endswith(f"/portal/{portal.id}")

    page = httpx.get(portal.url)
    assert page.status_code == 200
    assert sub.id in page.text
    assert plan["business"].id in page.text

    mark = _mark(standin, receiver)
    resp = httpx.post(
        f"{standin.url}/portal/{portal.id}/update",
        data={"subscription": sub.id, "price": plan["business"].id, "quantity": "2"},
    )
    assert resp.status_code == 303
    assert resp.headers["Location"] == "http://app.test/settings/billing"
    changed = client.v1.subscriptions.retrieve(sub.id)
    assert changed.items.data[0].price.id == plan["business"].id
    assert changed.items.data[0].quantity == 2

    resp = httpx.post(f"{standin.url}/portal/{portal.id}/cancel", data={"subscription": sub.id, "when": "period_end"})
    assert resp.status_code == 303
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is True

    assert standin.flush_webhooks(5)
    events = [e for e in receiver.since(mark) if e["data"]["object"].get("id") == sub.id]
    assert [e["type"] for e in events] == ["customer.subscription.updated", "customer.subscription.updated"]
    prev = events[0]["data"]["previous_attributes"]["items"]["data"][0]
    assert prev["price"]["id"] == plan["monthly"].id

    # renewing a subscription set to cancel at period end ends it
    standin.advance(sub.id, "renew")
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"


# ---------------------------------------------------------------------------------------------------
# time control, refunds
# ---------------------------------------------------------------------------------------------------
def test_advance_renew_fail_payment_and_pay(
    client: stripe.StripeClient, plan: dict[str, Any], standin: StandinServer, receiver: Receiver
) -> None:
    cus = client.v1.customers.create(params={"email": "renew@example.com"})
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": plan["monthly"].id}]})
    period_end = sub.items.data[0].current_period_end

    mark = _mark(standin, receiver)
    standin.advance(sub.id, "renew")
    renewed = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert renewed.status == "active"
    assert renewed.items.data[0].current_period_start == period_end
    assert renewed.items.data[0].current_period_end > period_end
    assert renewed.latest_invoice.status == "paid"
    assert renewed.latest_invoice.billing_reason == "subscription_cycle"
    assert len(client.v1.invoices.list(params={"subscription": sub.id}).data) == 2
    assert standin.flush_webhooks(5)
    assert _is_subsequence(
        ["invoice.finalized", "invoice.paid", "customer.subscription.updated"], _types(receiver.since(mark))
    )

    mark = _mark(standin, receiver)
    resp = httpx.post(f"{standin.url}/_standin/advance", data={"subscription": sub.id, "action": "fail_payment"})
    assert resp.status_code == 200
    assert resp.json()["subscription"]["status"] == "past_due"
    failed = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert failed.status == "past_due"
    assert failed.latest_invoice.status == "open"
    assert failed.latest_invoice.attempt_count == 1
    assert [i.id for i in client.v1.invoices.list(params={"customer": cus.id, "status": "open"}).data] == [
        failed.latest_invoice.id
    ]
    assert standin.flush_webhooks(5)
    events = receiver.since(mark)
    assert _is_subsequence(
        ["invoice.finalized", "invoice.payment_failed", "customer.subscription.updated"], _types(events)
    )
    sub_update = next(e for e in events if e["type"] == "customer.subscription.updated")
    assert sub_update["data"]["previous_attributes"]["status"] == "active"

    mark = _mark(standin, receiver)
    standin.advance(sub.id, "pay")
    paid = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert paid.status == "active"
    assert paid.latest_invoice.status == "paid"
    assert standin.flush_webhooks(5)
    assert _is_subsequence(["invoice.paid", "customer.subscription.updated"], _types(receiver.since(mark)))

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(paid.latest_invoice.id)


def test_advance_require_action_then_customer_confirms(
    client: stripe.StripeClient, plan: dict[str, Any], standin: StandinServer, receiver: Receiver
) -> None:
    cus = client.v1.customers.create(params={"email": "sca@example.com"})
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": plan["monthly"].id}]})
    charges_before = len(client.v1.charges.list(params={"customer": cus.id}).data)

    mark = _mark(standin, receiver)
    resp = httpx.post(f"{standin.url}/_standin/advance", data={"subscription": sub.id, "action": "require_action"})
    assert resp.status_code == 200
    assert resp.json()["subscription"]["status"] == "past_due"
    waiting = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    invoice = waiting.latest_invoice
    assert waiting.status == "past_due"
    assert invoice.billing_reason == "subscription_cycle"
    assert invoice.status == "open"
    assert invoice.attempt_count == 1
    assert invoice.next_payment_attempt is None
    assert len(client.v1.charges.list(params={"customer": cus.id}).data) == charges_before  # nothing charged
    assert standin.flush_webhooks(5)
    events = receiver.since(mark)
    assert _is_subsequence(
        ["invoice.finalized", "invoice.payment_action_required", "customer.subscription.updated"], _types(events)
    )
    assert "invoice.payment_failed" not in _types(events)
    action = next(e for e in events if e["type"] == "invoice.payment_action_required")
    assert action["data"]["object"]["id"] == invoice.id

    # Again while the invoice is open: the same invoice is attempted again, no new one is created.
    standin.advance(sub.id, "require_action")
    assert client.v1.invoices.retrieve(invoice.id).attempt_count == 2
    assert len(client.v1.invoices.list(params={"subscription": sub.id}).data) == 2

    mark = _mark(standin, receiver)
    page = httpx.post(f"{standin.url}/invoice/{invoice.id}/pay")  # the hosted invoice page's button
    assert page.status_code == 303
    paid = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert paid.status == "active"
    assert paid.latest_invoice.status == "paid"
    assert standin.flush_webhooks(5)
    assert _is_subsequence(["invoice.paid", "customer.subscription.updated"], _types(receiver.since(mark)))


def test_require_action_on_a_trial_and_unknown_actions(
    client: stripe.StripeClient, plan: dict[str, Any], standin: StandinServer
) -> None:
    cus = client.v1.customers.create(params={"email": "sca-trial@example.com"})
    sub = client.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": plan["monthly"].id}], "trial_period_days": 7}
    )
    standin_url = standin.url
    resp = httpx.post(f"{standin_url}/_standin/advance", data={"subscription": sub.id, "action": "require_action"})
    assert resp.status_code == 200, resp.text
    after = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert after.status == "past_due"
    assert after.latest_invoice.status == "open"
    bad = httpx.post(f"{standin_url}/_standin/advance", data={"subscription": sub.id, "action": "explode"})
    assert bad.status_code == 400
    assert "require_action" in bad.json()["error"]["message"]


def test_invoice_payments_list_filters_by_payment(client: stripe.StripeClient, plan: dict[str, Any]) -> None:
    cus = client.v1.customers.create(params={"email": "payments@example.com"})
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": plan["monthly"].id}]})
    invoice = client.v1.invoices.retrieve(sub.latest_invoice, params={"expand": ["payments"]})
    [payment] = invoice.payments.data
    assert payment.status == "paid"
    assert payment.payment.type == "charge"
    assert payment.payment.charge
    by_invoice = client.v1.invoice_payments.list(params={"invoice": invoice.id}).data
    assert [p.id for p in by_invoice] == [payment.id]
    # No payment intents in the stand-in: filtering by one finds nothing (instead of ignoring the filter).
    none = client.v1.invoice_payments.list(
        params={"payment": {"type": "payment_intent", "payment_intent": "pi_unknown"}}
    ).data
    assert none == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoice_payments.list(params={"payment": {"type": "card"}})
    listed = client.v1.invoices.list(params={"customer": cus.id, "expand": ["data.payments"]}).data
    assert [p.payment.charge for p in listed[0].payments.data] == [payment.payment.charge]


def test_refund_sends_charge_refunded(
    client: stripe.StripeClient, plan: dict[str, Any], standin: StandinServer, receiver: Receiver
) -> None:
    cus = client.v1.customers.create(params={"email": "refund@example.com"})
    client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": plan["monthly"].id}]})
    charge = client.v1.charges.list(params={"customer": cus.id}).data[0]
    mark = _mark(standin, receiver)
    resp = httpx.post(f"{standin.url}/_standin/refund", data={"charge": charge.id, "amount": "500"})
    assert resp.status_code == 200
    assert resp.json()["amount_refunded"] == 500
    assert standin.flush_webhooks(5)
    refunded = [e for e in receiver.since(mark) if e["type"] == "charge.refunded"]
    assert len(refunded) == 1
    assert refunded[0]["data"]["object"]["id"] == charge.id
    assert refunded[0]["data"]["previous_attributes"]["amount_refunded"] == 0


# ---------------------------------------------------------------------------------------------------
# meters
# ---------------------------------------------------------------------------------------------------
def test_meter_events_and_duplicate_identifier(client: stripe.StripeClient, standin: StandinServer) -> None:
    event_name = f"api_calls_{uuid.uuid4().hex[:6]}"
    meter = client.v1.billing.meters.create(
        params={"display_name": "API calls", "event_name": event_name, "default_aggregation": {"formula": "sum"}}
    )
    assert meter.id.startswith("mtr_")
    assert meter.status == "active"
    assert meter.id in [m.id for m in client.v1.billing.meters.list(params={"limit": 100}).data]
    cus = client.v1.customers.create(params={"email": "meter@example.com"})

    ident = f"usage-{uuid.uuid4().hex}"
    params: Any = {
        "event_name": event_name,
        "payload": {"stripe_customer_id": cus.id, "value": "25"},
        "identifier": ident,
        "timestamp": int(time.time()),
    }
    ev = client.v1.billing.meter_events.create(params=params)
    assert isinstance(ev, stripe.billing.MeterEvent)
    assert ev.identifier == ident
    assert ev.payload["value"] == "25"

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.billing.meter_events.create(params=params)
    assert exc.value.http_status == 400
    assert exc.value.param == "identifier"
    assert "already exists" in exc.value.user_message

    client.v1.billing.meter_events.create(
        params={"event_name": event_name, "payload": {"stripe_customer_id": cus.id, "value": "5"}}
    )
    stored = httpx.get(f"{standin.url}/_standin/meter_events", params={"customer": cus.id}).json()["data"]
    assert [e["payload"]["value"] for e in stored] == ["25", "5"]

    now = int(time.time())
    summary = client.v1.billing.meters.event_summaries.list(
        meter.id, params={"customer": cus.id, "start_time": now - 60, "end_time": now + 60}
    )
    assert summary.data[0].aggregated_value == 30

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.billing.meter_events.create(
            params={
                "event_name": event_name,
                "payload": {"stripe_customer_id": cus.id, "value": "1"},
                "timestamp": now - 40 * 86400,
            }
        )
    assert exc.value.param == "timestamp"


# ---------------------------------------------------------------------------------------------------
# events, webhooks, persistence
# ---------------------------------------------------------------------------------------------------
def test_events_api_and_webhook_signatures(
    client: stripe.StripeClient, standin: StandinServer, receiver: Receiver
) -> None:
    mark = _mark(standin, receiver)
    receiver.fail_next = 1  # first delivery attempt gets a 500: the stand-in retries
    cus = client.v1.customers.create(params={"email": "events@example.com"})
    assert standin.flush_webhooks(5)
    delivered = receiver.since(mark)
    assert [e["type"] for e in delivered] == ["customer.created"]
    event = client.v1.events.retrieve(delivered[0]["id"])
    assert isinstance(event, stripe.Event)
    assert event.data.object.id == cus.id
    assert event.request.id
    assert event.request.id.startswith("req_")
    listed = client.v1.events.list(params={"type": "customer.created", "limit": 3})
    assert listed.data[0].id == event.id
    summary = next(d for d in standin.deliveries() if d["event"] == event.id)
    assert summary["status"] == "delivered"
    assert summary["attempts"] == 2
    assert client.v1.events.retrieve(event.id).pending_webhooks == 0

    # the signature is real: it verifies with the first secret only
    body = b'{"id": "evt_x"}'
    header = sign_payload(body, SECRET)
    stripe.WebhookSignature.verify_header(body.decode(), header, SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body.decode(), header, "whsec_rotated_out")


def test_health_and_state_file_persistence(tmp_path: Path) -> None:
    state = tmp_path / "standin.json"
    with StandinServer(port=0, state_file=str(state)) as srv:
        health = httpx.get(f"{srv.url}/_standin/health").json()
        assert health["status"] == "ok"
        assert health["api_version"] == API_VERSION
        c = stripe.StripeClient(api_key="sk_test_other", base_addresses={"api": srv.url})
        cus = c.v1.customers.create(params={"email": "persist@example.com"})
    assert state.exists()
    with StandinServer(port=0, state_file=str(state)) as srv2:
        c2 = stripe.StripeClient(api_key="sk_test_other", base_addresses={"api": srv2.url})
        assert c2.v1.customers.retrieve(cus.id).email == "persist@example.com"
        assert httpx.post(f"{srv2.url}/_standin/reset").json() == {"reset": True}
        with pytest.raises(stripe.InvalidRequestError):
            c2.v1.customers.retrieve(cus.id)


def test_sdk_request_encoding_is_understood(standin: StandinServer) -> None:
    """Bracket-encoded bodies and query strings exactly as stripe-python sends them."""
    resp = httpx.post(
        f"{standin.url}/v1/customers",
        content="email=enc%40example.com&metadata[a]=1&metadata[b]=two&expand[0]=test_clock",
        headers={"Authorization": "Bearer sk_test_local", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["metadata"] == {"a": "1", "b": "two"}
    assert body["email"] == "enc@example.com"
    query = parse_qs(urlsplit(f"{standin.url}/v1/customers?email=enc%40example.com&limit=1").query)
    listed = httpx.get(
        f"{standin.url}/v1/customers", params=query, headers={"Authorization": "Bearer sk_test_local"}
    ).json()
    assert listed["object"] == "list"
    assert listed["data"][0]["id"] == body["id"]


def test_renewal_bills_metered_usage_and_pending_prorations(
    client: stripe.StripeClient, plan: dict[str, Any], standin: StandinServer
) -> None:
    event_name = f"seats_used_{uuid.uuid4().hex[:6]}"
    meter = client.v1.billing.meters.create(
        params={"display_name": "Usage", "event_name": event_name, "default_aggregation": {"formula": "sum"}}
    )
    metered = client.v1.prices.create(
        params={
            "product": plan["product"].id,
            "unit_amount": 3,
            "currency": "usd",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    cus = client.v1.customers.create(params={"email": "usage@example.com"})
    sub = client.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": plan["monthly"].id}, {"price": metered.id}]}
    )
    licensed = next(i for i in sub.items.data if i.price.id == plan["monthly"].id)
    assert next(i for i in sub.items.data if i.price.id == metered.id).quantity is None
    assert sub.latest_invoice
    assert client.v1.invoices.retrieve(sub.latest_invoice).total == 2000

    for value in ("40", "60"):
        client.v1.billing.meter_events.create(
            params={"event_name": event_name, "payload": {"stripe_customer_id": cus.id, "value": value}}
        )
    # default proration_behavior=create_prorations: the difference waits for the next invoice
    client.v1.subscriptions.update(sub.id, params={"items": [{"id": licensed.id, "quantity": 2}]})
    assert client.v1.subscriptions.retrieve(sub.id).latest_invoice == sub.latest_invoice

    renewal = standin.advance(sub.id, "renew")["latest_invoice"]
    by_kind = {line["parent"]["type"]: line for line in renewal["lines"]["data"] if line["amount"] > 0}
    amounts = sorted(line["amount"] for line in renewal["lines"]["data"])
    assert 300 in amounts  # 100 units x 3 cents
    assert 4000 in amounts  # 2 seats for the new period
    assert by_kind["invoice_item_details"]["parent"]["invoice_item_details"]["proration"] is True
    assert renewal["status"] == "paid"
    assert renewal["total"] == sum(amounts)
    assert all(e["standin_billed"] for e in standin.meter_events(customer=cus.id))
