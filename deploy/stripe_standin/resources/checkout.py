"""Checkout Sessions (mode=subscription): creation, expiry, completion from the hosted page."""

from __future__ import annotations

from typing import Any

from deploy.stripe_standin.constants import DAY
from deploy.stripe_standin.errors import StripeError, invalid_param, missing_param
from deploy.stripe_standin.resources.core import Resource, plain_list
from deploy.stripe_standin.resources.customers import Customers
from deploy.stripe_standin.store import random_token
from deploy.stripe_standin.util import Obj, apply_metadata, get_dict, get_int, get_list, get_str, line_amount, metered


class Checkout(Customers):
    def retrieve(self, kind: str, obj_id: str) -> Obj:
        if kind == "checkout.session":  # an open session past expires_at expires when it is looked at
            return self.render(kind, self.checkout_session(obj_id))
        return super().retrieve(kind, obj_id)

    def _includable(self, node: Obj, key: str) -> Any:
        if node.get("object") == "checkout.session" and key == "line_items":
            session = self.store.get("checkout.session", node["id"])
            rows = session["_line_items"] if session else []
            data = [self._checkout_line_item(session or node, row) for row in rows]
            return plain_list(data, f"/v1/checkout/sessions/{node['id']}/line_items")
        return super()._includable(node, key)

    def checkout_create(self, p: Obj) -> Obj:
        mode = get_str(p, "mode", required=True)
        if mode not in ("payment", "setup", "subscription"):
            raise invalid_param("mode", "Invalid mode: must be one of payment, setup, or subscription")
        if mode != "subscription":
            raise invalid_param("mode", "The Stripe stand-in only supports Checkout in mode=subscription.")
        success_url = get_str(p, "success_url")
        if not success_url:
            raise missing_param("success_url")
        cus_id = get_str(p, "customer")
        customer_email = get_str(p, "customer_email")
        if cus_id:
            self.ref("customer", cus_id, "customer")
            if customer_email:
                raise invalid_param(
                    "customer_email", "You may only specify one of these parameters: customer, customer_email."
                )
        raw_items = get_list(p, "line_items")
        if not raw_items:
            raise missing_param("line_items")
        rows: list[Obj] = []
        prices: list[Obj] = []
        for idx, entry in enumerate(raw_items):
            where = f"line_items[{idx}]"
            if not isinstance(entry, dict):
                raise invalid_param(where, f"Invalid object: {where} must be a hash.", "parameter_invalid_object")
            price_id = get_str(entry, "price", param=f"{where}[price]")
            if entry.get("price_data") not in (None, ""):
                raise invalid_param(f"{where}[price_data]", "The stand-in does not support price_data; pass a price.")
            if not price_id:
                raise missing_param(f"{where}[price]")
            price = self._recurring_price(price_id, f"{where}[price]")
            qty = get_int(entry, "quantity", minimum=0, param=f"{where}[quantity]")
            if metered(price):
                if qty is not None:
                    raise invalid_param(
                        f"{where}[quantity]", "Quantity should not be specified where usage_type is `metered`."
                    )
            elif qty is None:
                raise missing_param(f"{where}[quantity]", f"Quantity is required. Add `quantity` to `{where}`.")
            rows.append({"id": f"li_{random_token(24)}", "price": price["id"], "quantity": qty})
            prices.append(price)
        self._check_compatible(prices, "line_items")
        sub_data = get_dict(p, "subscription_data") or {}
        trial_days = get_int(sub_data, "trial_period_days", minimum=1, param="subscription_data[trial_period_days]")
        trial_end = get_int(sub_data, "trial_end", param="subscription_data[trial_end]")
        if trial_days is None and trial_end is None:
            trial_days = max((pr["recurring"].get("trial_period_days") or 0 for pr in prices), default=0) or None
        subtotal = sum(
            line_amount(pr["unit_amount_decimal"], row["quantity"] or 0) for pr, row in zip(prices, rows, strict=True)
        )
        trialing = bool(trial_days) or bool(trial_end)
        now = self.now()
        expires_at = get_int(p, "expires_at") or now + DAY
        cs_id = self.store.new_id("cs_test", 58)
        session: Obj = {
            "id": cs_id,
            "object": "checkout.session",
            "adaptive_pricing": None,
            "after_expiration": None,
            "allow_promotion_codes": None,
            "amount_subtotal": subtotal,
            "amount_total": 0 if trialing else subtotal,
            "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
            "billing_address_collection": None,
            "cancel_url": get_str(p, "cancel_url"),
            "client_reference_id": get_str(p, "client_reference_id"),
            "client_secret": None,
            "collected_information": None,
            "consent": None,
            "consent_collection": None,
            "created": now,
            "currency": prices[0]["currency"],
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": cus_id,
            "customer_account": None,
            "customer_creation": None if cus_id else "always",
            "customer_details": None,
            "customer_email": customer_email,
            "discounts": [],
            "expires_at": expires_at,
            "integration_identifier": None,
            "invoice": None,
            "invoice_creation": None,
            "livemode": False,
            "locale": None,
            "metadata": apply_metadata({}, p.get("metadata")),
            "mode": "subscription",
            "origin_context": None,
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "always",
            "payment_method_configuration_details": None,
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "permissions": None,
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "saved_payment_method_options": None,
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": None,
            "subscription": None,
            "success_url": success_url,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted",
            "url": f"{self.public_url}/checkout/{cs_id}",
            "wallet_options": None,
            "_line_items": rows,
            "_subscription_data": {
                "metadata": sub_data.get("metadata"),
                "trial_period_days": trial_days,
                "trial_end": trial_end,
                "description": get_str(sub_data, "description", param="subscription_data[description]"),
            },
        }
        self.store.put("checkout.session", session)
        return self.render("checkout.session", session)

    def _checkout_line_item(self, session: Obj, row: Obj) -> Obj:
        price = self.store.get("price", row["price"])
        amount = line_amount(price["unit_amount_decimal"], row["quantity"] or 0) if price else 0
        return {
            "id": row["id"],
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": amount,
            "amount_tax": 0,
            "amount_total": amount,
            "currency": session["currency"],
            "description": self._product_name(price) if price else None,
            "price": self.render("price", price) if price else None,
            "quantity": row["quantity"],
        }

    def checkout_session(self, cs_id: str) -> Obj:
        session = self.get("checkout.session", cs_id)
        if session["status"] == "open" and session["expires_at"] <= self.now():
            session["status"] = "expired"
            self.emit("checkout.session.expired", "checkout.session", session)
        return session

    def checkout_line_items(self, cs_id: str, _p: Obj) -> Obj:
        session = self.checkout_session(cs_id)
        data = [self._checkout_line_item(session, row) for row in session["_line_items"]]
        return plain_list(data, f"/v1/checkout/sessions/{cs_id}/line_items")

    def checkout_expire(self, cs_id: str) -> Obj:
        session = self.checkout_session(cs_id)
        if session["status"] != "open":
            raise StripeError(
                f'Only Checkout Sessions with a status in ["open"] can be expired. This session has a status of '
                f"{session['status']}."
            )
        session["status"] = "expired"
        self.emit("checkout.session.expired", "checkout.session", session)
        return self.render("checkout.session", session)

    def checkout_complete(self, cs_id: str, email: str | None = None, name: str | None = None) -> Obj:
        session = self.checkout_session(cs_id)
        if session["status"] != "open":
            raise StripeError(f"This Checkout Session is no longer active (status: {session['status']}).")
        if session["customer"]:
            cus = self.ref("customer", session["customer"], "customer")
        else:
            created = self.customer_create(
                {"email": email or session["customer_email"] or "customer@example.com", "name": name}
            )
            cus = self.get("customer", created["id"])
            session["customer"] = cus["id"]
        data = session["_subscription_data"]
        items = [
            (self._recurring_price(row["price"], "line_items"), row["quantity"], None) for row in session["_line_items"]
        ]
        pm_id = f"pm_{random_token(24)}"
        trial_end = data.get("trial_end")
        sub = self._create_subscription(
            cus,
            items,
            metadata=data.get("metadata"),
            trial_days=data.get("trial_period_days"),
            trial_end=trial_end if trial_end and trial_end > self.now() else None,
            description=data.get("description"),
            default_payment_method=pm_id,
        )
        invoice = self.store.get("invoice", sub["latest_invoice"])
        session["status"] = "complete"
        session["subscription"] = sub["id"]
        session["invoice"] = sub["latest_invoice"]
        session["payment_status"] = "paid" if invoice and invoice["amount_paid"] > 0 else "no_payment_required"
        if invoice and invoice["amount_due"] == 0 and session["amount_total"] == 0:
            session["payment_status"] = "no_payment_required"
        session["customer_details"] = {
            "address": None,
            "business_name": None,
            "email": cus.get("email"),
            "individual_name": None,
            "name": cus.get("name"),
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }
        self.emit("checkout.session.completed", "checkout.session", session)
        return session


RESOURCES = (Resource("checkout.session", "/v1/checkout/sessions", filters=("customer", "subscription", "status")),)
