"""Customers (deleting one cancels its subscriptions)."""

from __future__ import annotations

from deploy.stripe_standin.errors import no_such
from deploy.stripe_standin.resources.core import Resource
from deploy.stripe_standin.resources.subscriptions import Subscriptions
from deploy.stripe_standin.store import random_token
from deploy.stripe_standin.util import Obj, apply_metadata, get_str


class Customers(Subscriptions):
    def customer_create(self, p: Obj) -> Obj:
        now = self.now()
        prefix = get_str(p, "invoice_prefix") or random_token(8).upper()
        cus: Obj = {
            "id": self.store.new_id("cus", 14),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": now,
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": get_str(p, "description"),
            "discount": None,
            "email": get_str(p, "email"),
            "invoice_prefix": prefix,
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": apply_metadata({}, p.get("metadata")),
            "name": get_str(p, "name"),
            "next_invoice_sequence": 1,
            "phone": get_str(p, "phone"),
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self.store.put("customer", cus)
        self.emit("customer.created", "customer", cus)
        return self.render("customer", cus)

    def customer_update(self, cus_id: str, p: Obj) -> Obj:
        cus = self._live_customer(cus_id)
        before = self.render("customer", cus)
        for field in ("email", "name", "description", "phone"):
            if field in p:
                cus[field] = get_str(p, field)
        if "metadata" in p:
            cus["metadata"] = apply_metadata(cus["metadata"], p["metadata"])
        return self.emit_change("customer.updated", "customer", cus, before)

    def customer_delete(self, cus_id: str) -> Obj:
        cus = self._live_customer(cus_id)
        for sub in self.store.all("subscription"):
            if sub["customer"] == cus_id and sub["status"] not in ("canceled", "incomplete_expired"):
                self._cancel_now(sub, reason="cancellation_requested")
        snapshot = self.render("customer", cus)
        cus["deleted"] = True
        self.emit_data("customer.deleted", snapshot)
        return {"id": cus_id, "object": "customer", "deleted": True}

    def _live_customer(self, cus_id: str) -> Obj:
        cus = self.get("customer", cus_id)
        if cus.get("deleted"):
            raise no_such("customer", cus_id)
        return cus


RESOURCES = (Resource("customer", "/v1/customers", hide_deleted=True, filters=("email",)),)
