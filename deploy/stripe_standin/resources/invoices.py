"""Invoices and invoice payments: creation, finalization, payment attempts, void."""

from __future__ import annotations

from typing import Any

from deploy.stripe_standin.constants import DAY
from deploy.stripe_standin.errors import StripeError, invalid_param
from deploy.stripe_standin.resources.charges import Charges
from deploy.stripe_standin.resources.core import EngineCore, Resource, plain_list
from deploy.stripe_standin.store import random_token
from deploy.stripe_standin.util import Obj, get_dict, get_str, invoice_subscription, public


class Invoices(Charges):
    def _includable(self, node: Obj, key: str) -> Any:
        obj_type = node.get("object")
        if obj_type == "invoice" and key == "payments":
            rows = [p for p in self.store.all("invoice_payment") if p["invoice"] == node["id"]]
            data = [self.render("invoice_payment", r) for r in reversed(rows)]
            return plain_list(data, f"/v1/invoice_payments?invoice={node['id']}")
        if obj_type == "invoice" and key == "confirmation_secret":
            if node.get("status") != "open":
                return None
            return {"client_secret": f"pi_{random_token(24)}_secret_{random_token(24)}", "type": "payment_intent"}
        return super()._includable(node, key)

    def _new_invoice(
        self, sub: Obj, lines: list[Obj], billing_reason: str, *, period_start: int, period_end: int
    ) -> Obj:
        now = self.now()
        cus = self.store.get("customer", sub["customer"]) or {}
        inv_id = self.store.new_id("in", 24)
        line_objs = [self._line_object(inv_id, sub, ln) for ln in lines]
        subtotal = sum(ln["amount"] for ln in line_objs)
        invoice: Obj = {
            "id": inv_id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "Tenantry (Stripe stand-in)",
            "account_tax_ids": None,
            "amount_due": max(0, subtotal),
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_remaining": max(0, subtotal),
            "amount_shipping": 0,
            "application": None,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": True,
            "automatic_tax": {
                "disabled_reason": None,
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "automatically_finalizes_at": None,
            "billing_reason": billing_reason,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": sub["currency"],
            "custom_fields": None,
            "customer": sub["customer"],
            "customer_account": None,
            "customer_address": None,
            "customer_email": cus.get("email"),
            "customer_name": cus.get("name"),
            "customer_phone": cus.get("phone"),
            "customer_shipping": None,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": [],
            "due_date": None,
            "effective_at": None,
            "ending_balance": None,
            "footer": None,
            "from_invoice": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "latest_revision": None,
            "lines": plain_list(line_objs, f"/v1/invoices/{inv_id}/lines", total_count=len(line_objs)),
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "number": None,
            "on_behalf_of": None,
            "parent": {
                "quote_details": None,
                "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
                "type": "subscription_details",
            },
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            "period_end": period_end,
            "period_start": period_start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "rendering": None,
            "shipping_cost": None,
            "shipping_details": None,
            "starting_balance": 0,
            "statement_descriptor": None,
            "status": "draft",
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": subtotal,
            "subtotal_excluding_tax": subtotal,
            "test_clock": None,
            "total": subtotal,
            "total_discount_amounts": [],
            "total_excluding_tax": subtotal,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": None,
        }
        self.store.put("invoice", invoice)
        return invoice

    def _line_object(self, inv_id: str, sub: Obj, ln: Obj) -> Obj:
        proration = ln["kind"] == "proration"
        if proration:
            parent: Obj = {
                "invoice_item_details": {
                    "invoice_item": ln.get("invoice_item"),
                    "proration": True,
                    "proration_details": {"credited_items": None},
                    "subscription": sub["id"],
                },
                "subscription_item_details": None,
                "type": "invoice_item_details",
            }
        else:
            parent = {
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": sub["id"],
                    "subscription_item": ln.get("subscription_item"),
                },
                "type": "subscription_item_details",
            }
        return {
            "id": f"il_{random_token(24)}",
            "object": "line_item",
            "amount": ln["amount"],
            "currency": sub["currency"],
            "description": ln["description"],
            "discount_amounts": [],
            "discountable": not proration,
            "discounts": [],
            "invoice": inv_id,
            "livemode": False,
            "metadata": {},
            "parent": parent,
            "period": dict(ln["period"]),
            "pretax_credit_amounts": [],
            "pricing": {
                "price_details": {"price": ln["price"], "product": ln["product"]},
                "type": "price_details",
                "unit_amount_decimal": ln.get("unit_amount_decimal"),
            },
            "quantity": ln.get("quantity"),
            "quantity_decimal": None if ln.get("quantity") is None else str(ln.get("quantity")),
            "subscription": sub["id"],
            "subtotal": ln["amount"],
            "taxes": [],
        }

    def _run_invoice(self, invoice: Obj, description: str, *, succeed: bool = True, pay: bool = True) -> bool:
        """Emit invoice.created, finalize and, if anything is due and ``pay``, attempt the payment (True if it did)."""
        self.emit("invoice.created", "invoice", invoice)
        self._finalize(invoice)
        if invoice["status"] != "open" or not pay:
            return False
        self._attempt_payment(invoice, succeed=succeed, description=description)
        return True

    def _finalize(self, invoice: Obj) -> None:
        """draft -> open (or straight to paid when nothing is due); applies the customer balance."""
        now = self.now()
        cus = self.store.get("customer", invoice["customer"])
        total = invoice["total"]
        balance = cus["balance"] if cus else 0
        applied = 0
        if total >= 0:
            if balance < 0:
                applied = -min(total, -balance)  # use credit
            elif balance > 0:
                applied = balance  # outstanding debt is added
        else:
            applied = total  # negative invoice becomes credit
        amount_due = max(0, total + applied) if total >= 0 else 0
        invoice["starting_balance"] = balance
        invoice["ending_balance"] = balance - applied if total >= 0 else balance + total
        if cus is not None:
            cus["balance"] = invoice["ending_balance"]
            seq = cus["next_invoice_sequence"]
            cus["next_invoice_sequence"] = seq + 1
            invoice["number"] = f"{cus['invoice_prefix']}-{seq:04d}"
        invoice["amount_due"] = amount_due
        invoice["amount_remaining"] = amount_due
        invoice["status"] = "open"
        invoice["effective_at"] = now
        invoice["status_transitions"]["finalized_at"] = now
        invoice["hosted_invoice_url"] = f"{self.public_url}/invoice/{invoice['id']}"
        invoice["invoice_pdf"] = f"{self.public_url}/invoice/{invoice['id']}/pdf"
        self.emit("invoice.finalized", "invoice", invoice)
        if amount_due == 0:
            invoice["status"] = "paid"
            invoice["status_transitions"]["paid_at"] = now
            self.emit("invoice.paid", "invoice", invoice)
            self.emit("invoice.payment_succeeded", "invoice", invoice)

    def _attempt_payment(self, invoice: Obj, *, succeed: bool, description: str) -> Obj:
        now = self.now()
        amount = invoice["amount_remaining"]
        charge = self._new_charge(invoice, amount, succeed=succeed, description=description)
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        payment = next(
            (p for p in self.store.all("invoice_payment") if p["invoice"] == invoice["id"] and p["status"] == "open"),
            None,
        )
        if payment is None:
            payment = {
                "id": self.store.new_id("inpay", 24),
                "object": "invoice_payment",
                "amount_paid": None,
                "amount_requested": amount,
                "created": now,
                "currency": invoice["currency"],
                "invoice": invoice["id"],
                "is_default": True,
                "livemode": False,
                "payment": {"charge": charge["id"], "type": "charge"},
                "status": "open",
                "status_transitions": {"canceled_at": None, "paid_at": None},
            }
            self.store.put("invoice_payment", payment)
        payment["payment"] = {"charge": charge["id"], "type": "charge"}
        if succeed:
            payment["status"] = "paid"
            payment["amount_paid"] = amount
            payment["status_transitions"]["paid_at"] = now
            invoice["amount_paid"] += amount
            invoice["amount_remaining"] = 0
            invoice["status"] = "paid"
            invoice["status_transitions"]["paid_at"] = now
            invoice["next_payment_attempt"] = None
            self.emit("charge.succeeded", "charge", charge)
            self.emit("invoice.paid", "invoice", invoice)
            self.emit("invoice.payment_succeeded", "invoice", invoice)
        else:
            invoice["next_payment_attempt"] = now + 3 * DAY
            self.emit("charge.failed", "charge", charge)
            self.emit("invoice.payment_failed", "invoice", invoice)
        return charge

    def invoice_lines(self, inv_id: str, _p: Obj) -> Obj:
        invoice = self.get("invoice", inv_id)
        data = invoice["lines"]["data"]
        return plain_list(public(data), f"/v1/invoices/{inv_id}/lines")

    def invoice_pay(self, inv_id: str, _p: Obj | None = None) -> Obj:
        invoice = self.get("invoice", inv_id)
        if invoice["status"] == "paid":
            raise StripeError("Invoice is already paid", code="invoice_already_paid")
        if invoice["status"] != "open":
            raise StripeError(f"You can only pay an open invoice. This invoice is {invoice['status']}.")
        self._pay_open_invoice(invoice)
        return self.render("invoice", invoice)

    def _pay_open_invoice(self, invoice: Obj) -> None:
        self._attempt_payment(invoice, succeed=True, description="Payment for Invoice")
        sub_id = invoice_subscription(invoice)
        sub = self.store.get("subscription", sub_id) if sub_id else None
        if sub is not None and sub["status"] in ("past_due", "unpaid", "incomplete"):
            before = self.render("subscription", sub)
            sub["status"] = "active"
            self.emit_change("customer.subscription.updated", "subscription", sub, before, always=True)

    def invoice_void(self, inv_id: str) -> Obj:
        invoice = self.get("invoice", inv_id)
        if invoice["status"] != "open":
            raise StripeError(f"You can only void an open invoice. This invoice is {invoice['status']}.")
        before = self.render("invoice", invoice)
        invoice["status"] = "void"
        invoice["amount_remaining"] = 0
        invoice["status_transitions"]["voided_at"] = self.now()
        self.emit("invoice.voided", "invoice", invoice)
        self.emit_change("invoice.updated", "invoice", invoice, before, always=True)
        return self.render("invoice", invoice)


def _by_subscription(_engine: EngineCore, rows: list[Obj], p: Obj) -> list[Obj]:
    sub_id = get_str(p, "subscription")
    return [r for r in rows if invoice_subscription(r) == sub_id] if sub_id else rows


def _by_status(_engine: EngineCore, rows: list[Obj], p: Obj) -> list[Obj]:
    status = get_str(p, "status")
    if not status:
        return rows
    if status not in ("draft", "open", "paid", "uncollectible", "void"):
        raise invalid_param("status", "Invalid status: must be one of draft, open, paid, uncollectible, or void")
    return [r for r in rows if r["status"] == status]


def _by_payment(_engine: EngineCore, rows: list[Obj], p: Obj) -> list[Obj]:
    """Stripe filters invoice payments on payment[type] and payment[payment_intent] / payment[payment_record]."""
    payment = get_dict(p, "payment")
    if not payment:
        return rows
    kind = get_str(payment, "type", required=True, param="payment[type]")
    if kind not in ("payment_intent", "payment_record"):
        raise invalid_param("payment[type]", "Invalid payment[type]: must be one of payment_intent or payment_record")
    wanted = get_str(payment, kind, param=f"payment[{kind}]")
    return [r for r in rows if r["payment"].get("type") == kind and r["payment"].get(kind) == wanted]


RESOURCES = (
    Resource("invoice", "/v1/invoices", filters=("customer", _by_subscription, _by_status)),
    Resource(
        "invoice_payment", "/v1/invoice_payments", label="invoice payment", filters=("invoice", _by_payment, "status")
    ),
)
