"""Shared test support for billing and webhooks: a stand-in Stripe per session, signing, delivery,
a live WSGI server, committed-data helpers. Imported by tests/billing/conftest.py and
tests/webhooks/conftest.py."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from billing import services
from billing.models import BillingCustomer, DriftReport, Invoice, Plan, Subscription
from tenants.models import Tenant, TenantStatus
from webhooks.models import WebhookEvent
from webhooks.signature import sign

SECRET = "whsec_test_primary"
OLD_SECRET = "whsec_test_previous"


_STANDIN: list[Any] = []


def standin_server() -> Any:
    """The session's stand-in, started on first use on a port the OS picks when it binds (never a
    port chosen at collection, which another process may have taken by the time it starts). Its
    address and the webhook secrets go into os.environ, so a Celery worker started afterwards (the
    `celery_worker_process` fixture starts it first) reaches it."""
    if not _STANDIN:
        from deploy.stripe_standin.server import StandinServer

        srv = StandinServer(port=int(os.environ.get("TEST_STANDIN_PORT") or 0), webhook_secret=SECRET).start()
        os.environ["STRIPE_API_BASE"] = srv.url
        os.environ["STRIPE_WEBHOOK_SECRET"] = f"{SECRET},{OLD_SECRET}"
        _STANDIN.append(srv)
    return _STANDIN[0]


@pytest.fixture(scope="session")
def standin() -> Any:
    """One stand-in per test process (both conftests share it; it stops with the process)."""
    return standin_server()


@pytest.fixture(autouse=True)
def _stripe_settings(standin: Any, settings: Any) -> Any:
    settings.STRIPE_API_BASE = standin.url
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET, OLD_SECRET]
    standin.configure_webhooks(None, SECRET)
    standin.reset()
    return standin


# --- Stand-in helpers -----------------------------------------------------------------------------


def _encode(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            out += _encode(value, name)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    out += _encode(item, f"{name}[{i}]")
                else:
                    out.append((f"{name}[{i}]", str(item)))
        elif isinstance(value, bool):
            out.append((name, "true" if value else "false"))
        elif value is not None:
            out.append((name, str(value)))
    return out


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_NoRedirect)


def standin_call(srv: Any, method: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    data = urllib.parse.urlencode(_encode(params or {})).encode()
    req = urllib.request.Request(  # noqa: S310
        f"{srv.url}{path}",
        data=data if method != "GET" else None,
        method=method,
        headers={"Authorization": f"Bearer {settings.STRIPE_API_KEY}"},
    )
    try:
        with _NO_REDIRECTS.open(req, timeout=10) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code in (301, 302, 303):
            return {"redirect": exc.headers.get("Location")}
        raise AssertionError(f"stand-in {method} {path}: {exc.code} {exc.read()[:500]!r}") from exc
    return json.loads(body) if body[:1] in (b"{", b"[") else {"raw": body.decode()}


def events_for(srv: Any, *, types: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    return [e for e in srv.events() if types is None or e["type"] in types]


def event_for(srv: Any, type_: str, object_id: str, *, after: int = 0) -> dict[str, Any]:
    """The newest stand-in event of `type_` about `object_id` (the object itself, or an invoice of that
    subscription), among the events after the first `after` ones."""
    for event in reversed(srv.events()[after:]):
        if event["type"] != type_:
            continue
        obj = event["data"]["object"]
        parent = ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        if object_id in (obj.get("id"), parent):
            return event
    raise AssertionError(f"the stand-in sent no {type_} for {object_id}")


def subscribe(srv: Any, customer: BillingCustomer, plan: str = "team", quantity: int = 1, **extra: Any) -> dict:
    plan_row = Plan.objects.get(code=plan)
    return standin_call(
        srv,
        "POST",
        "/v1/subscriptions",
        {
            "customer": customer.stripe_customer_id,
            "items": [{"price": plan_row.stripe_price_id, "quantity": quantity}],
            **extra,
        },
    )


# --- Delivery -------------------------------------------------------------------------------------


def signed_headers(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    return {"HTTP_STRIPE_SIGNATURE": sign(body=body, secret=secret, timestamp=timestamp)}


def body_of(event: dict[str, Any] | bytes) -> bytes:
    return event if isinstance(event, bytes) else json.dumps(event).encode()


def deliver(event: dict[str, Any] | bytes, *, secret: str = SECRET, timestamp: int | None = None, **headers: str):
    body = body_of(event)
    client = Client(HTTP_HOST="localhost")
    extra = {**signed_headers(body, secret=secret, timestamp=timestamp), **headers}
    return client.post("/webhooks/stripe/", data=body, content_type="application/json", **extra)


def deliver_and_process(event: dict[str, Any]) -> WebhookEvent:
    from webhooks.services import webhook_event_process

    response = deliver(event)
    assert response.status_code == 200, response.content
    row = WebhookEvent.objects.get(stripe_event_id=event["id"])
    webhook_event_process(event_id=row.pk)
    row.refresh_from_db()
    return row


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


# --- Live server and committed data -----------------------------------------------------------


class LiveDjango:
    """The real WSGI app in a threaded HTTP server; every request thread has its own connection."""

    def __init__(self) -> None:
        from django.contrib.staticfiles.handlers import StaticFilesHandler
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

        class QuietHandler(WSGIRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
        # Static files too (the finance dashboard's stylesheet), as Django's LiveServerTestCase does.
        self.httpd.set_app(StaticFilesHandler(WSGIHandler()))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def live_django() -> Iterator[LiveDjango]:
    server = LiveDjango()
    yield server
    server.stop()


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run fn on a fresh thread (own autocommit connection) and return its result."""
    from django.db import connections

    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc
        finally:
            connections.close_all()

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    if "error" in box:
        raise box["error"]
    return box.get("result")


@pytest.fixture
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """Autocommit access for tests whose data other processes (worker, server threads) must see.
    Billing rows of the session tenants, webhook events and drift reports are removed afterwards and
    the session tenants' status restored."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        yield
        connection.set_schema_to_public()
        cleanup_committed()


def cleanup_committed() -> None:
    WebhookEvent.objects.all().delete()
    Invoice.objects.all().delete()
    Subscription.objects.all().delete()
    BillingCustomer.objects.all().delete()
    DriftReport.objects.all().delete()
    Plan.objects.all().delete()
    Tenant.objects.filter(slug__in=("alpha", "beta")).update(status=TenantStatus.TRIALING, closed_at=None)


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met within timeout")


def customer_for(tenant: Tenant) -> BillingCustomer:
    return services.billing_customer_ensure(tenant=tenant)
