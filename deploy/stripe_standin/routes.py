"""The v1 API route table: (method, path pattern) -> parameter-check key + engine call."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deploy.stripe_standin.engine import Engine
from deploy.stripe_standin.util import Obj

Handler = Callable[[Engine, Obj, tuple[str, ...]], Obj]

_ID = r"([^/]+)"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str  # key into params.KNOWN
    handler: Handler


def _r(method: str, path: str, endpoint: str, handler: Handler) -> Route:
    return Route(method, re.compile("^" + path.replace("{id}", _ID) + "$"), endpoint, handler)


ROUTES: list[Route] = [
    # customers
    _r("POST", "/v1/customers", "customer.create", lambda e, p, a: e.customer_create(p)),
    _r("GET", "/v1/customers", "customer.list", lambda e, p, a: e.customer_list(p)),
    _r("GET", "/v1/customers/{id}", "retrieve", lambda e, p, a: e.customer_retrieve(a[0])),
    _r("POST", "/v1/customers/{id}", "customer.update", lambda e, p, a: e.customer_update(a[0], p)),
    _r("DELETE", "/v1/customers/{id}", "delete", lambda e, p, a: e.customer_delete(a[0])),
    # products & prices
    _r("POST", "/v1/products", "product.create", lambda e, p, a: e.product_create(p)),
    _r("GET", "/v1/products", "product.list", lambda e, p, a: e.product_list(p)),
    _r("GET", "/v1/products/{id}", "retrieve", lambda e, p, a: e.product_retrieve(a[0])),
    _r("POST", "/v1/products/{id}", "product.update", lambda e, p, a: e.product_update(a[0], p)),
    _r("DELETE", "/v1/products/{id}", "delete", lambda e, p, a: e.product_delete(a[0])),
    _r("POST", "/v1/prices", "price.create", lambda e, p, a: e.price_create(p)),
    _r("GET", "/v1/prices", "price.list", lambda e, p, a: e.price_list(p)),
    _r("GET", "/v1/prices/{id}", "retrieve", lambda e, p, a: e.price_retrieve(a[0])),
    _r("POST", "/v1/prices/{id}", "price.update", lambda e, p, a: e.price_update(a[0], p)),
    # subscriptions
    _r("POST", "/v1/subscriptions", "subscription.create", lambda e, p, a: e.subscription_create(p)),
    _r("GET", "/v1/subscriptions", "subscription.list", lambda e, p, a: e.subscription_list(p)),
    _r("GET", "/v1/subscriptions/{id}", "retrieve", lambda e, p, a: e.subscription_retrieve(a[0])),
    _r("POST", "/v1/subscriptions/{id}", "subscription.update", lambda e, p, a: e.subscription_update(a[0], p)),
    _r("DELETE", "/v1/subscriptions/{id}", "subscription.cancel", lambda e, p, a: e.subscription_cancel(a[0], p)),
    _r("POST", "/v1/subscription_items", "subscription_item.create", lambda e, p, a: e.subscription_item_create(p)),
    _r("GET", "/v1/subscription_items", "subscription_item.list", lambda e, p, a: e.subscription_item_list(p)),
    _r("GET", "/v1/subscription_items/{id}", "retrieve", lambda e, p, a: e.subscription_item_retrieve(a[0])),
    _r(
        "POST",
        "/v1/subscription_items/{id}",
        "subscription_item.update",
        lambda e, p, a: e.subscription_item_update(a[0], p),
    ),
    _r(
        "DELETE",
        "/v1/subscription_items/{id}",
        "subscription_item.delete",
        lambda e, p, a: e.subscription_item_delete(a[0], p),
    ),
    # invoices, payments, charges, refunds
    _r("GET", "/v1/invoices", "invoice.list", lambda e, p, a: e.invoice_list(p)),
    _r("POST", "/v1/invoices/create_preview", "invoice.create_preview", lambda e, p, a: e.invoice_create_preview(p)),
    _r("GET", "/v1/invoices/{id}", "retrieve", lambda e, p, a: e.invoice_retrieve(a[0])),
    _r("GET", "/v1/invoices/{id}/lines", "invoice.lines", lambda e, p, a: e.invoice_lines(a[0], p)),
    _r("POST", "/v1/invoices/{id}/pay", "invoice.pay", lambda e, p, a: e.invoice_pay(a[0], p)),
    _r("POST", "/v1/invoices/{id}/void", "invoice.void", lambda e, p, a: e.invoice_void(a[0])),
    _r("GET", "/v1/invoice_payments", "invoice_payment.list", lambda e, p, a: e.invoice_payment_list(p)),
    _r("GET", "/v1/invoice_payments/{id}", "retrieve", lambda e, p, a: e.invoice_payment_retrieve(a[0])),
    _r("GET", "/v1/charges", "charge.list", lambda e, p, a: e.charge_list(p)),
    _r("GET", "/v1/charges/{id}", "retrieve", lambda e, p, a: e.charge_retrieve(a[0])),
    _r("POST", "/v1/refunds", "refund.create", lambda e, p, a: e.refund_create(p)),
    _r("GET", "/v1/refunds", "refund.list", lambda e, p, a: e.refund_list(p)),
    _r("GET", "/v1/refunds/{id}", "retrieve", lambda e, p, a: e.refund_retrieve(a[0])),
    # checkout & portal
    _r("POST", "/v1/checkout/sessions", "checkout.session.create", lambda e, p, a: e.checkout_create(p)),
    _r("GET", "/v1/checkout/sessions", "checkout.session.list", lambda e, p, a: e.checkout_list(p)),
    _r("GET", "/v1/checkout/sessions/{id}", "retrieve", lambda e, p, a: e.checkout_retrieve(a[0])),
    _r(
        "GET",
        "/v1/checkout/sessions/{id}/line_items",
        "checkout.session.line_items",
        lambda e, p, a: e.checkout_line_items(a[0], p),
    ),
    _r(
        "POST",
        "/v1/checkout/sessions/{id}/expire",
        "checkout.session.expire",
        lambda e, p, a: e.checkout_expire(a[0]),
    ),
    _r(
        "POST",
        "/v1/billing_portal/sessions",
        "billing_portal.session.create",
        lambda e, p, a: e.portal_create(p),
    ),
    # billing meters
    _r("POST", "/v1/billing/meters", "billing.meter.create", lambda e, p, a: e.meter_create(p)),
    _r("GET", "/v1/billing/meters", "billing.meter.list", lambda e, p, a: e.meter_list(p)),
    _r("GET", "/v1/billing/meters/{id}", "retrieve", lambda e, p, a: e.meter_retrieve(a[0])),
    _r("POST", "/v1/billing/meters/{id}", "billing.meter.update", lambda e, p, a: e.meter_update(a[0], p)),
    _r(
        "POST",
        "/v1/billing/meters/{id}/deactivate",
        "retrieve",
        lambda e, p, a: e.meter_set_status(a[0], active=False),
    ),
    _r(
        "POST",
        "/v1/billing/meters/{id}/reactivate",
        "retrieve",
        lambda e, p, a: e.meter_set_status(a[0], active=True),
    ),
    _r(
        "GET",
        "/v1/billing/meters/{id}/event_summaries",
        "billing.meter.event_summaries",
        lambda e, p, a: e.meter_event_summaries(a[0], p),
    ),
    _r("POST", "/v1/billing/meter_events", "billing.meter_event.create", lambda e, p, a: e.meter_event_create(p)),
    # events
    _r("GET", "/v1/events", "event.list", lambda e, p, a: e.event_list(p)),
    _r("GET", "/v1/events/{id}", "retrieve", lambda e, p, a: e.event_retrieve(a[0])),
]


def match(method: str, path: str) -> tuple[Route, tuple[str, ...]] | None:
    for route in ROUTES:
        if route.method != method:
            continue
        m = route.pattern.match(path)
        if m:
            return route, tuple(m.groups())
    return None


def describe() -> list[dict[str, Any]]:
    """Route listing for ``GET /_standin/routes``."""
    return [
        {"method": r.method, "path": r.pattern.pattern.strip("^$").replace(_ID, "{id}"), "params": r.endpoint}
        for r in ROUTES
    ]
