"""Charges and refunds."""

from __future__ import annotations

from typing import Any

from deploy.stripe_standin.errors import StripeError, invalid_param
from deploy.stripe_standin.resources.catalog import Catalog
from deploy.stripe_standin.resources.core import Resource, plain_list
from deploy.stripe_standin.store import random_token
from deploy.stripe_standin.util import Obj, apply_metadata, get_int, get_str, money, public


class Charges(Catalog):
    def _new_charge(self, invoice: Obj, amount: int, *, succeed: bool, description: str) -> Obj:
        cus = self.store.get("customer", invoice["customer"]) or {}
        ch_id = self.store.new_id("ch", 24)
        charge: Obj = {
            "id": ch_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if succeed else 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": f"txn_{random_token(24)}" if succeed else None,
            "billing_details": {
                "address": None,
                "email": cus.get("email"),
                "name": cus.get("name"),
                "phone": None,
                "tax_id": None,
            },
            "calculated_statement_descriptor": "TENANTRY",
            "captured": succeed,
            "created": self.now(),
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "description": description,
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None if succeed else "card_declined",
            "failure_message": None if succeed else "Your card was declined.",
            "fraud_details": {},
            "livemode": False,
            "metadata": {},
            "on_behalf_of": None,
            "outcome": {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "approved_by_network" if succeed else "declined_by_network",
                "reason": None if succeed else "generic_decline",
                "risk_level": "normal",
                "seller_message": "Payment complete."
                if succeed
                else "The bank did not return any further details with this decline.",
                "type": "authorized" if succeed else "issuer_declined",
            },
            "paid": succeed,
            "payment_intent": None,
            "payment_method": "pm_card_standin_4242",
            "payment_method_details": {
                "card": {
                    "brand": "visa",
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "funding": "credit",
                    "last4": "4242" if succeed else "0341",
                    "network": "visa",
                },
                "type": "card",
            },
            "receipt_email": None,
            "receipt_number": None,
            "receipt_url": invoice.get("hosted_invoice_url"),
            "refunded": False,
            "refunds": plain_list([], f"/v1/charges/{ch_id}/refunds"),
            "review": None,
            "shipping": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "succeeded" if succeed else "failed",
            "transfer_data": None,
            "transfer_group": None,
            "_invoice": invoice["id"],
        }
        self.store.put("charge", charge)
        return charge

    def refund_create(self, p: Obj) -> Obj:
        charge = self.ref("charge", get_str(p, "charge"), "charge")
        amount = get_int(p, "amount", minimum=1)
        refund = self._refund(charge, amount, reason=get_str(p, "reason"), metadata=p.get("metadata"))
        return self.render("refund", refund)

    def _refund(self, charge: Obj, amount: int | None, *, reason: str | None = None, metadata: Any = None) -> Obj:
        if charge["status"] != "succeeded":
            raise invalid_param("charge", f"Charge {charge['id']} has not succeeded and cannot be refunded.")
        available = charge["amount"] - charge["amount_refunded"]
        if available <= 0:
            raise StripeError(
                f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded", param="charge"
            )
        amount = available if amount is None else amount
        if amount > available:
            raise invalid_param(
                "amount",
                f"Refund amount ({money(amount, charge['currency'])}) is greater than unrefunded amount on charge "
                f"({money(available, charge['currency'])})",
                "amount_too_large",
            )
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise invalid_param(
                "reason", "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer"
            )
        before = self.render("charge", charge)
        refund: Obj = {
            "id": self.store.new_id("re", 24),
            "object": "refund",
            "amount": amount,
            "balance_transaction": f"txn_{random_token(24)}",
            "charge": charge["id"],
            "created": self.now(),
            "currency": charge["currency"],
            "customer": charge["customer"],
            "customer_account": None,
            "destination_details": {"card": {"type": "refund"}, "type": "card"},
            "metadata": apply_metadata({}, metadata),
            "payment_intent": None,
            "payment_method": None,
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
        self.store.put("refund", refund)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"].insert(0, public(refund))
        self.emit("refund.created", "refund", refund)
        self.emit_change("charge.refunded", "charge", charge, before, always=True)
        return refund

    def refund_charge(self, ch_id: str, amount: int | None) -> Obj:
        charge = self.ref("charge", ch_id, "charge")
        self._refund(charge, amount)
        return self.render("charge", charge)


RESOURCES = (
    Resource("charge", "/v1/charges", filters=("customer",)),
    Resource("refund", "/v1/refunds", filters=("charge",)),
)
