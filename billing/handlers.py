"""Webhook event handlers: one function per Stripe event type, each idempotent and order-independent
(the object is re-fetched from Stripe, so applying an old event twice or late converges on Stripe's
state). Called by webhooks.services inside a transaction that holds the inbox row lock."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from billing import gateway, services
from billing.models import BillingCustomer

logger = logging.getLogger(__name__)

PROCESSED = "processed"
IGNORED = "ignored"
UNMATCHED = "unmatched"


@dataclass(frozen=True)
class Outcome:
    status: str
    tenant_id: int | None = None


Handler = Callable[[BillingCustomer, dict[str, Any], dt.datetime | None], None]


def _on_checkout_completed(customer: BillingCustomer, obj: dict[str, Any], marker: dt.datetime | None) -> None:
    subscription_id = services.stripe_id(obj.get("subscription"))
    if subscription_id:
        services.subscription_sync(customer=customer, subscription_id=subscription_id, marker=marker)


def _on_subscription(customer: BillingCustomer, obj: dict[str, Any], marker: dt.datetime | None) -> None:
    services.subscription_sync(customer=customer, subscription_id=obj["id"], marker=marker)


def _on_trial_will_end(customer: BillingCustomer, obj: dict[str, Any], marker: dt.datetime | None) -> None:
    sub = services.subscription_sync(customer=customer, subscription_id=obj["id"], marker=marker)
    if sub is not None:  # re-fetched: a trial that already converted (events out of order) gets no notice
        services.subscription_note_trial_ending(subscription=sub, at=marker)


def _on_invoice(customer: BillingCustomer, obj: dict[str, Any], _marker: dt.datetime | None) -> None:
    services.invoice_sync(customer=customer, invoice_id=obj["id"])


def _on_invoice_paid(customer: BillingCustomer, obj: dict[str, Any], marker: dt.datetime | None) -> None:
    invoice = services.invoice_sync(customer=customer, invoice_id=obj["id"], with_subscription=True, marker=marker)
    if invoice.status == "paid":
        services.tenant_mark_paid(tenant=customer.tenant)


def _on_invoice_failed(customer: BillingCustomer, obj: dict[str, Any], _marker: dt.datetime | None) -> None:
    invoice = services.invoice_sync(customer=customer, invoice_id=obj["id"])
    # Re-fetched: if it was paid meanwhile (events out of order) the tenant stays in good standing.
    if invoice.status == "open":
        services.tenant_mark_past_due(tenant=customer.tenant)


def _on_invoice_action_required(customer: BillingCustomer, obj: dict[str, Any], marker: dt.datetime | None) -> None:
    """The payment needs the customer's authentication (3-D Secure): flag the invoice for the billing
    overview (with its hosted page, where the customer confirms) and start dunning like a failed
    payment: the money was not collected. Re-fetched: if it was paid meanwhile, nothing is flagged."""
    invoice = services.invoice_sync(customer=customer, invoice_id=obj["id"], with_subscription=True, marker=marker)
    if invoice.status == "open":
        services.invoice_flag_action_required(invoice=invoice, at=marker)
        services.tenant_mark_past_due(tenant=customer.tenant)


def _on_customer_updated(customer: BillingCustomer, _obj: dict[str, Any], _marker: dt.datetime | None) -> None:
    services.customer_refresh(customer=customer)


def _on_charge_refunded(customer: BillingCustomer, obj: dict[str, Any], _marker: dt.datetime | None) -> None:
    charge = gateway.charge_retrieve(charge_id=obj["id"])
    if services.invoice_refunds_sync(customer=customer, charge=charge) is None:
        logger.info("refund of %s not linked to an invoice", obj["id"])


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _on_checkout_completed,
    "customer.subscription.created": _on_subscription,
    "customer.subscription.updated": _on_subscription,
    "customer.subscription.deleted": _on_subscription,
    "customer.subscription.trial_will_end": _on_trial_will_end,
    "invoice.finalized": _on_invoice,
    "invoice.payment_action_required": _on_invoice_action_required,
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_failed": _on_invoice_failed,
    "customer.updated": _on_customer_updated,
    "charge.refunded": _on_charge_refunded,
}


def _customer_id_of(event_type: str, obj: dict[str, Any]) -> str:
    if event_type.startswith("customer.") and not event_type.startswith("customer.subscription."):
        return str(obj.get("id") or "")
    return services.stripe_id(obj.get("customer"))


def handle_event(payload: dict[str, Any]) -> Outcome:
    """Dispatch one Stripe event (already stored and locked). Raises on errors worth retrying."""
    event_type = str(payload.get("type") or "")
    handler = HANDLERS.get(event_type)
    if handler is None:
        return Outcome(IGNORED)
    obj = ((payload.get("data") or {}).get("object")) or {}
    if not isinstance(obj, dict) or not obj.get("id"):
        raise ValueError("event has no data.object.id")
    customer = services.customer_lock(stripe_customer_id=_customer_id_of(event_type, obj))
    if customer is None:
        return Outcome(UNMATCHED)
    handler(customer, obj, services.ts(payload.get("created")))
    return Outcome(PROCESSED, customer.tenant_id)


# Types whose handler is a pure function of (the object re-fetched from Stripe, the latest event time):
# applying two of them for the same object with one fetch equals applying the later one (D110).
# The others (trial notice, action required, refunds) run once per event, still with shared reads.
COALESCED_TYPES = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
        "customer.updated",
    }
)


SUBSCRIPTION_TYPES = frozenset(t for t in HANDLERS if t.startswith("customer.subscription."))
# Handlers that read the invoice with its subscription expanded and mirror both (services.invoice_sync).
INVOICE_WITH_SUBSCRIPTION = frozenset({"invoice.paid", "invoice.payment_action_required"})


@dataclass
class BatchStats:
    """What `handle_events` did (bench/webhook_ingest reports it per stage): Stripe fetches made and
    their CPU, handler runs and their CPU (fetches included), customer locks taken."""

    fetches: int = 0
    fetch_cpu_ns: int = 0
    runs: int = 0
    apply_cpu_ns: int = 0
    customers: int = 0


def handle_events(payloads: Sequence[dict[str, Any]], *, stats: BatchStats | None = None) -> list[Outcome]:
    """`handle_event` for several stored, locked events at once, in the caller's transaction: each gets
    its own outcome, but events of one customer share one customer lock and one Stripe read per object
    (gateway.reads_shared), and events of a COALESCED type for the same object run their handler once,
    with the latest event time. The reads start after every event was stored, so each event is applied
    with Stripe's state from after it happened, as `handle_event` would. Raises like `handle_event`;
    the caller then rolls back and applies the events one by one to record which one failed."""
    outcomes: list[Outcome | None] = [None] * len(payloads)
    by_customer: dict[str, list[int]] = {}
    for index, payload in enumerate(payloads):
        event_type = str(payload.get("type") or "")
        if event_type not in HANDLERS:
            outcomes[index] = Outcome(IGNORED)
            continue
        obj = ((payload.get("data") or {}).get("object")) or {}
        if not isinstance(obj, dict) or not obj.get("id"):
            raise ValueError("event has no data.object.id")
        by_customer.setdefault(_customer_id_of(event_type, obj), []).append(index)
    stats = stats if stats is not None else BatchStats()
    with gateway.reads_shared() as reads:
        for customer_id in sorted(by_customer):  # one lock order for every batch: no deadlock between two
            indexes = by_customer[customer_id]
            customer = services.customer_lock(stripe_customer_id=customer_id)
            stats.customers += 1
            if customer is None:
                for index in indexes:
                    outcomes[index] = Outcome(UNMATCHED)
                continue
            # Coalesced events all apply the state read now, after the last of them: they are dated by
            # the latest of them (Stripe's `created`), as applying them one by one would leave it.
            markers = [
                services.ts(payloads[i].get("created")) for i in indexes if payloads[i]["type"] in COALESCED_TYPES
            ]
            latest = max((m for m in markers if m is not None), default=None)
            runs: dict[tuple[str, str] | int, tuple[str, dict[str, Any], dt.datetime | None]] = {}
            for index in indexes:
                payload = payloads[index]
                event_type = str(payload["type"])
                obj = payload["data"]["object"]
                if event_type in COALESCED_TYPES:
                    runs[(event_type, str(obj["id"]))] = (event_type, obj, latest)
                else:
                    runs[index] = (event_type, obj, services.ts(payload.get("created")))
            started = time.thread_time_ns()
            # Invoices first: one whose subscription came expanded has mirrored that subscription with
            # the very object a subscription event would read, so that event needs no second run.
            mirrored: dict[str, int] = {}
            for event_type, obj, marker in sorted(runs.values(), key=lambda run: run[0] in SUBSCRIPTION_TYPES):
                if event_type in SUBSCRIPTION_TYPES and event_type in COALESCED_TYPES:
                    seen = reads.subscription(str(obj["id"]))
                    if seen is not None and mirrored.get(str(obj["id"])) == id(seen):
                        continue
                HANDLERS[event_type](customer, obj, marker)
                stats.runs += 1
                if event_type in INVOICE_WITH_SUBSCRIPTION:
                    sub_id = services.invoice_subscription_id(obj)
                    expanded = reads.subscription(sub_id) if sub_id else None
                    if expanded is not None:
                        mirrored[sub_id] = id(expanded)
            stats.apply_cpu_ns += time.thread_time_ns() - started
            for index in indexes:
                outcomes[index] = Outcome(PROCESSED, customer.tenant_id)
        stats.fetches += reads.fetches
        stats.fetch_cpu_ns += reads.fetch_cpu_ns
    return [outcome or Outcome(IGNORED) for outcome in outcomes]
