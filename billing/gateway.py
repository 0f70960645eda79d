"""The only module that talks to Stripe (through the official SDK). Everything returns plain dicts.

With STRIPE_API_BASE set (development, tests) the SDK is pointed at the local stand-in; otherwise it
talks to Stripe itself. Every write takes a deterministic idempotency key built by `idempotency_key`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import stripe
from django.conf import settings

IDEMPOTENCY_KEY_MAX_LENGTH = 255  # Stripe's limit for an Idempotency-Key


class GatewayError(Exception):
    """A Stripe call failed. `retryable` is True for network errors, 5xx, 429 and lock conflicts."""

    def __init__(self, message: str, *, code: str = "", http_status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.retryable = retryable


class NotFoundError(GatewayError):
    pass


def idempotency_key(*, tenant_id: int | str, operation: str, business_id: str) -> str:
    """Deterministic: the same (tenant, operation, business id) always yields the same key."""
    raw = f"tenantry:{tenant_id}:{operation}:{business_id}"
    if len(raw) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        return raw
    return f"tenantry:{tenant_id}:{operation}:{hashlib.sha256(business_id.encode()).hexdigest()}"


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    kwargs: dict[str, Any] = {"max_network_retries": 2}
    if api_base:
        kwargs["base_addresses"] = {"api": api_base}
    return stripe.StripeClient(api_key, **kwargs)


def client() -> stripe.StripeClient:
    return _client(settings.STRIPE_API_KEY, settings.STRIPE_API_BASE)


def _call(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        result = fn(*args, **kwargs)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == HTTPStatus.NOT_FOUND or exc.code == "resource_missing":
            raise NotFoundError(str(exc), code=exc.code or "resource_missing", http_status=404) from exc
        raise GatewayError(str(exc), code=exc.code or "invalid_request", http_status=exc.http_status) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise GatewayError(
            str(exc), code=exc.code or "unavailable", http_status=exc.http_status, retryable=True
        ) from exc
    except stripe.IdempotencyError as exc:
        raise GatewayError(str(exc), code="idempotency_error", http_status=exc.http_status) from exc
    except stripe.StripeError as exc:
        status = exc.http_status
        retryable = (
            status is None
            or status >= HTTPStatus.INTERNAL_SERVER_ERROR
            or status in (HTTPStatus.CONFLICT, HTTPStatus.TOO_MANY_REQUESTS)
        )
        raise GatewayError(str(exc), code=exc.code or "stripe_error", http_status=status, retryable=retryable) from exc
    if isinstance(result, stripe.StripeResponse):
        return dict(result.data)  # type: ignore[call-overload]
    return result.to_dict() if hasattr(result, "to_dict") else dict(result)


class SharedReads:
    """Reads made inside `reads_shared()`: each object fetched at most once (D111)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
        self.fetches = 0
        self.fetch_cpu_ns = 0  # this thread's CPU time spent in the fetches (bench/webhook_ingest)

    def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        """The subscription as read in this block (on its own or expanded in an invoice), if it was."""
        return self.objects.get((_path("subscriptions", subscription_id), ()))


_SHARED: ContextVar[SharedReads | None] = ContextVar("gateway_shared_reads", default=None)


@contextmanager
def reads_shared() -> Iterator[SharedReads]:
    """Within the block, a GET of the same object with the same expansions returns the first answer, and
    a subscription expanded in an invoice counts as a read of that subscription. Only for callers that
    began the block after everything they apply was known to have happened (webhook events already
    stored): one fetch then serves them all, and it is as fresh as a fetch per event would have been."""
    token = _SHARED.set(SharedReads())
    try:
        yield _SHARED.get()  # type: ignore[misc]
    finally:
        _SHARED.reset(token)


def _get(path: str, **params: Any) -> dict[str, Any]:
    """A read through the SDK's raw request: the same retries, error mapping and headers, but the JSON
    body comes back as plain dicts without the StripeObject round trip (which costs about as much
    client CPU as the HTTP request itself). Webhook processing re-fetches on every event."""
    shared = _SHARED.get()
    if shared is None:
        return _call(client().raw_request, "get", path, **params)
    key = (path, tuple(params.get("expand") or ()))
    found = shared.objects.get(key)
    if found is not None:
        return found
    started = time.thread_time_ns()
    data = _call(client().raw_request, "get", path, **params)
    shared.fetch_cpu_ns += time.thread_time_ns() - started
    shared.fetches += 1
    shared.objects[key] = data
    expanded = ((data.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    if isinstance(expanded, dict) and expanded.get("id"):
        shared.objects.setdefault((_path("subscriptions", expanded["id"]), ()), expanded)
    return data


def _path(*parts: str) -> str:
    return "/v1/" + "/".join(quote(part, safe="") for part in parts)


def _opts(key: str | None) -> dict[str, Any]:
    return {"idempotency_key": key} if key else {}


# --- Customers -----------------------------------------------------------------------------------


def customer_create(*, name: str, email: str, metadata: dict[str, str], key: str) -> dict[str, Any]:
    params = {"name": name, "metadata": metadata}
    if email:
        params["email"] = email
    return _call(client().v1.customers.create, params=params, options=_opts(key))


def customer_retrieve(*, customer_id: str) -> dict[str, Any]:
    return _get(_path("customers", customer_id))


# --- Subscriptions ------------------------------------------------------------------------------


def subscription_retrieve(*, subscription_id: str) -> dict[str, Any]:
    return _get(_path("subscriptions", subscription_id))


def subscription_list(*, customer_id: str) -> list[dict[str, Any]]:
    return list(_paginate("subscriptions", {"customer": customer_id, "status": "all"}))


def subscription_item_set_quantity(*, item_id: str, quantity: int, key: str) -> dict[str, Any]:
    return _call(
        client().v1.subscription_items.update,
        item_id,
        params={"quantity": quantity, "proration_behavior": "create_prorations"},
        options=_opts(key),
    )


def subscription_change_price(
    *, subscription_id: str, item_id: str, price_id: str, quantity: int, proration_behavior: str, key: str
) -> dict[str, Any]:
    """Move the subscription's item to another price (a plan change), prorated as asked."""
    params = {
        "items": [{"id": item_id, "price": price_id, "quantity": quantity}],
        "proration_behavior": proration_behavior,
        "cancel_at_period_end": False,
    }
    return _call(client().v1.subscriptions.update, subscription_id, params=params, options=_opts(key))


def subscription_cancel_at_period_end(*, subscription_id: str, key: str) -> dict[str, Any]:
    params = {"cancel_at_period_end": True}
    return _call(client().v1.subscriptions.update, subscription_id, params=params, options=_opts(key))


def invoice_preview_subscription_change(
    *, customer_id: str, subscription_id: str, item_id: str, price_id: str, quantity: int, proration_behavior: str
) -> dict[str, Any]:
    """Stripe's invoice preview (`POST /v1/invoices/create_preview`) of moving the item to `price_id`."""
    params = {
        "customer": customer_id,
        "subscription": subscription_id,
        "subscription_details": {
            "items": [{"id": item_id, "price": price_id, "quantity": quantity}],
            "proration_behavior": proration_behavior,
        },
    }
    return _call(client().v1.invoices.create_preview, params=params)


# --- Invoices and charges -----------------------------------------------------------------------


def invoice_retrieve(
    *, invoice_id: str, with_payments: bool = False, with_subscription: bool = False
) -> dict[str, Any]:
    """The invoice; optionally with its `payments` list and/or its subscription object expanded in place
    of the id at `parent.subscription_details.subscription` (one request instead of two)."""
    expand = []
    if with_payments:
        expand.append("payments")
    if with_subscription:
        expand.append("parent.subscription_details.subscription")
    if expand:
        return _get(_path("invoices", invoice_id), expand=expand)
    return _get(_path("invoices", invoice_id))


def invoice_list(*, customer_id: str) -> list[dict[str, Any]]:
    return list(_paginate("invoices", {"customer": customer_id}))


def invoice_iter_with_payments(*, customer_id: str, created_lte: int | None = None) -> Iterator[dict[str, Any]]:
    """The customer's invoices, newest first, each with its `payments` list expanded (lazy pages)."""
    params: dict[str, Any] = {"customer": customer_id, "expand": ["data.payments"]}
    if created_lte:
        params["created"] = {"lte": created_lte}
    return _paginate("invoices", params, limit=20)


def invoice_payment_list(*, payment_intent_id: str) -> list[dict[str, Any]]:
    params = {"payment": {"type": "payment_intent", "payment_intent": payment_intent_id}}
    return list(_paginate("invoice_payments", params))


def charge_retrieve(*, charge_id: str) -> dict[str, Any]:
    return _get(_path("charges", charge_id))


# --- Checkout and portal ------------------------------------------------------------------------


def checkout_session_create(
    *,
    customer_id: str,
    price_id: str,
    quantity: int,
    success_url: str,
    cancel_url: str,
    client_reference_id: str,
    metadata: dict[str, str],
    key: str,
) -> dict[str, Any]:
    params = {
        "mode": "subscription",
        "customer": customer_id,
        "line_items": [{"price": price_id, "quantity": quantity}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
    }
    return _call(client().v1.checkout.sessions.create, params=params, options=_opts(key))


def portal_session_create(*, customer_id: str, return_url: str, key: str) -> dict[str, Any]:
    params = {"customer": customer_id, "return_url": return_url}
    return _call(client().v1.billing_portal.sessions.create, params=params, options=_opts(key))


# --- Catalog --------------------------------------------------------------------------------------


def product_retrieve(*, product_id: str) -> dict[str, Any]:
    return _get(_path("products", product_id))


def product_create(*, product_id: str, name: str, metadata: dict[str, str], key: str) -> dict[str, Any]:
    params = {"id": product_id, "name": name, "metadata": metadata}
    return _call(client().v1.products.create, params=params, options=_opts(key))


def price_list_by_lookup_keys(*, lookup_keys: list[str]) -> list[dict[str, Any]]:
    return list(_paginate("prices", {"lookup_keys": lookup_keys, "active": True}))


def price_create(
    *, product_id: str, lookup_key: str, unit_amount: int, currency: str, interval: str, key: str
) -> dict[str, Any]:
    params = {
        "product": product_id,
        "lookup_key": lookup_key,
        "unit_amount": unit_amount,
        "currency": currency,
        "recurring": {"interval": interval, "usage_type": "licensed"},
        "transfer_lookup_key": True,
    }
    return _call(client().v1.prices.create, params=params, options=_opts(key))


# --- Usage ---------------------------------------------------------------------------------------


def meter_event_create(
    *, event_name: str, customer_id: str, value: int, timestamp: int, identifier: str
) -> dict[str, Any]:
    params = {
        "event_name": event_name,
        "identifier": identifier,
        "timestamp": timestamp,
        "payload": {"stripe_customer_id": customer_id, "value": str(value)},
    }
    return _call(client().v1.billing.meter_events.create, params=params, options=_opts(identifier))


# --- Helpers ---------------------------------------------------------------------------------------


def _paginate(resource: str, params: dict[str, Any], limit: int = 100) -> Iterator[dict[str, Any]]:
    params = {**params, "limit": limit}
    while True:
        page = _get(_path(resource), **params)
        data = page.get("data") or []
        yield from data
        if not page.get("has_more") or not data:
            return
        params["starting_after"] = data[-1]["id"]
