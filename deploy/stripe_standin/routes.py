"""The v1 API route table: (method, path pattern) -> parameter-check key + engine call.

``GET /v1/<resource>`` and ``GET /v1/<resource>/{id}`` come from the resource declarations
(``Engine.RESOURCES``); the table below names only the endpoints with their own behaviour."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deploy.stripe_standin.engine import Engine, Resource
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
    _r("POST", "/v1/customers", "customer.create", lambda e, p, _a: e.customer_create(p)),
    _r("POST", "/v1/customers/{id}", "customer.update", lambda e, p, a: e.customer_update(a[0], p)),
    _r("DELETE", "/v1/customers/{id}", "delete", lambda e, _p, a: e.customer_delete(a[0])),
    # products & prices
    _r("POST", "/v1/products", "product.create", lambda e, p, _a: e.product_create(p)),
    _r("POST", "/v1/products/{id}", "product.update", lambda e, p, a: e.product_update(a[0], p)),
    _r("DELETE", "/v1/products/{id}", "delete", lambda e, _p, a: e.product_delete(a[0])),
    _r("POST", "/v1/prices", "price.create", lambda e, p, _a: e.price_create(p)),
    _r("POST", "/v1/prices/{id}", "price.update", lambda e, p, a: e.price_update(a[0], p)),
    # subscriptions
    _r("POST", "/v1/subscriptions", "subscription.create", lambda e, p, _a: e.subscription_create(p)),
    _r("POST", "/v1/subscriptions/{id}", "subscription.update", lambda e, p, a: e.subscription_update(a[0], p)),
    _r("DELETE", "/v1/subscriptions/{id}", "subscription.cancel", lambda e, p, a: e.subscription_cancel(a[0], p)),
    _r("POST", "/v1/subscription_items", "subscription_item.create", lambda e, p, _a: e.subscription_item_create(p)),
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
    _r("POST", "/v1/invoices/create_preview", "invoice.create_preview", lambda e, p, _a: e.invoice_create_preview(p)),
    _r("GET", "/v1/invoices/{id}/lines", "invoice.lines", lambda e, p, a: e.invoice_lines(a[0], p)),
    _r("POST", "/v1/invoices/{id}/pay", "invoice.pay", lambda e, p, a: e.invoice_pay(a[0], p)),
    _r("POST", "/v1/invoices/{id}/void", "invoice.void", lambda e, _p, a: e.invoice_void(a[0])),
    _r("POST", "/v1/refunds", "refund.create", lambda e, p, _a: e.refund_create(p)),
    # checkout & portal
    _r("POST", "/v1/checkout/sessions", "checkout.session.create", lambda e, p, _a: e.checkout_create(p)),
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
        lambda e, _p, a: e.checkout_expire(a[0]),
    ),
    _r(
        "POST",
        "/v1/billing_portal/sessions",
        "billing_portal.session.create",
        lambda e, p, _a: e.portal_create(p),
    ),
    # billing meters
    _r("POST", "/v1/billing/meters", "billing.meter.create", lambda e, p, _a: e.meter_create(p)),
    _r("POST", "/v1/billing/meters/{id}", "billing.meter.update", lambda e, p, a: e.meter_update(a[0], p)),
    _r(
        "POST",
        "/v1/billing/meters/{id}/deactivate",
        "retrieve",
        lambda e, _p, a: e.meter_set_status(a[0], active=False),
    ),
    _r(
        "POST",
        "/v1/billing/meters/{id}/reactivate",
        "retrieve",
        lambda e, _p, a: e.meter_set_status(a[0], active=True),
    ),
    _r(
        "GET",
        "/v1/billing/meters/{id}/event_summaries",
        "billing.meter.event_summaries",
        lambda e, p, a: e.meter_event_summaries(a[0], p),
    ),
    _r("POST", "/v1/billing/meter_events", "billing.meter_event.create", lambda e, p, _a: e.meter_event_create(p)),
]


def _generic(resource: Resource) -> list[Route]:
    kind, path = resource.kind, resource.path
    assert path is not None

    def list_of(e: Engine, p: Obj, _a: tuple[str, ...]) -> Obj:
        return e.list_of(kind, p)

    def retrieve(e: Engine, _p: Obj, a: tuple[str, ...]) -> Obj:
        return e.retrieve(kind, a[0])

    return [_r("GET", path, f"{kind}.list", list_of), _r("GET", path + "/{id}", "retrieve", retrieve)]


ROUTES += [route for resource in Engine.RESOURCES.values() if resource.path for route in _generic(resource)]


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
