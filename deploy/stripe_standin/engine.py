"""The stand-in's billing model: Stripe-shaped objects, their state machines and the events they emit.

Every public method runs with ``store.lock`` held by the caller (the HTTP layer takes it per request).
Objects are stored unexpanded (ids for references); :meth:`Engine.render` produces the API shape.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from deploy.stripe_standin.constants import (
    API_VERSION,
    DAY,
    MAX_EXPAND_DEPTH,
    METER_IDENTIFIER_TTL,
    METER_MAX_AGE,
    METER_MAX_FUTURE,
)
from deploy.stripe_standin.errors import StripeError, invalid_param, missing_param, no_such
from deploy.stripe_standin.store import Store, random_token
from deploy.stripe_standin.util import (
    INTERVALS,
    Obj,
    add_interval,
    apply_metadata,
    diff_previous,
    fmt_date,
    get_bool,
    get_decimal,
    get_dict,
    get_int,
    get_list,
    get_str,
    line_amount,
    money,
    public,
)

LABELS = {
    "customer": "customer",
    "product": "product",
    "price": "price",
    "subscription": "subscription",
    "subscription_item": "subscription item",
    "invoice": "invoice",
    "invoice_payment": "invoice payment",
    "charge": "charge",
    "refund": "refund",
    "checkout.session": "checkout.session",
    "billing_portal.session": "billing_portal.session",
    "billing.meter": "billing.meter",
    "event": "event",
}

ACTIVE_STATUSES = ("active", "trialing", "past_due", "unpaid", "incomplete", "paused")
SUB_STATUSES = (*ACTIVE_STATUSES, "canceled", "incomplete_expired")
PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")
TIMES = "\u00d7"  # MULTIPLICATION SIGN, as in Stripe's "2 <times> Pro (at $20.00 / month)"

EventSink = Callable[[Obj], None]


class Engine:
    def __init__(
        self,
        store: Store,
        *,
        public_url: str,
        api_version: str = API_VERSION,
        on_event: EventSink | None = None,
        webhooks_enabled: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.api_version = api_version
        self.on_event = on_event
        self.webhooks_enabled = webhooks_enabled or (lambda: False)
        self.clock = clock
        self.request: Obj = {"id": None, "idempotency_key": None}

    # =================================================================================================
    # plumbing
    # =================================================================================================
    def now(self) -> int:
        return int(self.clock())

    def get(self, kind: str, obj_id: str) -> Obj:
        obj = self.store.get(kind, obj_id) if obj_id else None
        if obj is None:
            raise no_such(LABELS.get(kind, kind), obj_id)
        return obj

    def ref(self, kind: str, obj_id: str | None, param: str) -> Obj:
        """Resolve an id passed as a parameter: a miss is a 400 with ``param`` set, like Stripe."""
        if not obj_id:
            raise missing_param(param)
        obj = self.store.get(kind, obj_id)
        if obj is None or obj.get("deleted"):
            raise no_such(LABELS.get(kind, kind), obj_id, param=param, status=400)
        return obj

    def emit(self, event_type: str, kind: str, obj: Obj, previous: Obj | None = None) -> Obj:
        event: Obj = {
            "id": self.store.new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": {"object": self.render(kind, obj)},
            "livemode": False,
            "pending_webhooks": 1 if self.webhooks_enabled() else 0,
            "request": dict(self.request),
            "type": event_type,
        }
        if previous is not None:
            event["data"]["previous_attributes"] = previous
        self.store.put("event", event)
        if self.on_event:
            self.on_event(event)
        return event

    def event_body(self, event: Obj) -> bytes:
        return json.dumps(public(event), indent=2).encode("utf-8")

    def mark_delivered(self, event_id: str) -> None:
        with self.store.lock:
            event = self.store.get("event", event_id)
            if event is not None:
                event["pending_webhooks"] = max(0, int(event.get("pending_webhooks", 0)) - 1)

    # -- rendering ------------------------------------------------------------------------------------
    def render(self, kind: str, obj: Obj) -> Obj:
        if kind == "customer" and obj.get("deleted"):
            return {"id": obj["id"], "object": "customer", "deleted": True}
        if kind == "product" and obj.get("deleted"):
            return {"id": obj["id"], "object": "product", "deleted": True}
        out = public(obj)
        if kind == "subscription":
            items = [i for i in self.store.all("subscription_item") if i["subscription"] == obj["id"]]
            out["items"] = {
                "object": "list",
                "data": [self.render("subscription_item", i) for i in items],
                "has_more": False,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={obj['id']}",
            }
        elif kind == "subscription_item":
            price = self.store.get("price", obj["price"])
            if price is not None:
                out["price"] = self.render("price", price)
                out["plan"] = self._plan(price)
        return out

    def render_id(self, obj_id: str) -> Obj | None:
        found = self.store.find(obj_id)
        if found is None:
            return None
        return self.render(*found)

    def _plan(self, price: Obj) -> Obj:
        rec = price.get("recurring") or {}
        return {
            "id": price["id"],
            "object": "plan",
            "active": price["active"],
            "amount": price["unit_amount"],
            "amount_decimal": price["unit_amount_decimal"],
            "billing_scheme": price["billing_scheme"],
            "created": price["created"],
            "currency": price["currency"],
            "interval": rec.get("interval"),
            "interval_count": rec.get("interval_count"),
            "livemode": False,
            "metadata": dict(price["metadata"]),
            "meter": rec.get("meter"),
            "nickname": price["nickname"],
            "product": price["product"],
            "tiers_mode": None,
            "transform_usage": None,
            "trial_period_days": rec.get("trial_period_days"),
            "usage_type": rec.get("usage_type", "licensed"),
        }

    # -- expansion ------------------------------------------------------------------------------------
    def expand(self, obj: Any, paths: list[str]) -> Any:
        for path in paths:
            parts = path.split(".")
            if len([p for p in parts if p != "data"]) > MAX_EXPAND_DEPTH:
                raise invalid_param("expand", f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property.")
            self._expand_one(obj, parts, path)
        return obj

    def _expand_one(self, node: Any, parts: list[str], full: str) -> None:
        if isinstance(node, list):
            for item in node:
                self._expand_one(item, parts, full)
            return
        if not isinstance(node, dict) or not parts:
            return
        key, rest = parts[0], parts[1:]
        if key not in node:
            includable = self._includable(node, key)
            if includable is _MISSING:
                raise invalid_param("expand", f"This property cannot be expanded ({full}).")
            node[key] = includable
        value = node[key]
        if isinstance(value, str):
            rendered = self.render_id(value)
            if rendered is None:
                raise invalid_param("expand", f"This property cannot be expanded ({full}).")
            node[key] = value = rendered
        if rest and value is not None:
            self._expand_one(value, rest, full)

    def _includable(self, node: Obj, key: str) -> Any:
        obj_type = node.get("object")
        if obj_type == "invoice" and key == "payments":
            rows = [p for p in self.store.all("invoice_payment") if p["invoice"] == node["id"]]
            return self._plain_list(rows, "invoice_payment", f"/v1/invoice_payments?invoice={node['id']}")
        if obj_type == "invoice" and key == "confirmation_secret":
            if node.get("status") != "open":
                return None
            return {"client_secret": f"pi_{random_token(24)}_secret_{random_token(24)}", "type": "payment_intent"}
        if obj_type == "checkout.session" and key == "line_items":
            session = self.store.get("checkout.session", node["id"])
            rows = session["_line_items"] if session else []
            data = [self._checkout_line_item(session or node, row) for row in rows]
            return {
                "object": "list",
                "data": data,
                "has_more": False,
                "url": f"/v1/checkout/sessions/{node['id']}/line_items",
            }
        return _MISSING

    def _plain_list(self, rows: list[Obj], kind: str, url: str) -> Obj:
        return {
            "object": "list",
            "data": [self.render(kind, r) for r in reversed(rows)],
            "has_more": False,
            "url": url,
        }

    # -- listing --------------------------------------------------------------------------------------
    def list_object(self, kind: str, rows: list[Obj], params: Obj, url: str) -> Obj:
        """Stripe list: newest first, ``limit`` (1-100, default 10), ``starting_after``/``ending_before``."""
        limit = get_int(params, "limit")
        if limit is None:
            limit = 10
        if not 1 <= limit <= 100:
            raise invalid_param("limit", "Invalid limit: must be between 1 and 100", "parameter_invalid_integer")
        rows = self._filter_created(rows, params)
        rows = sorted(rows, key=lambda o: (o.get("created", 0), o["_seq"]), reverse=True)
        after = get_str(params, "starting_after")
        before = get_str(params, "ending_before")
        ids = [r["id"] for r in rows]
        if after:
            if after not in ids:
                raise no_such(LABELS.get(kind, kind), after, param="starting_after", status=400)
            rows = rows[ids.index(after) + 1 :]
            page, has_more = rows[:limit], len(rows) > limit
        elif before:
            if before not in ids:
                raise no_such(LABELS.get(kind, kind), before, param="ending_before", status=400)
            rows = rows[: ids.index(before)]
            page, has_more = rows[-limit:], len(rows) > limit
        else:
            page, has_more = rows[:limit], len(rows) > limit
        return {
            "object": "list",
            "data": [self.render(kind, r) for r in page],
            "has_more": has_more,
            "url": url,
        }

    def _filter_created(self, rows: list[Obj], params: Obj) -> list[Obj]:
        created = params.get("created")
        if created in (None, ""):
            return rows
        if isinstance(created, dict):
            bounds = {op: get_int(created, op, param=f"created[{op}]") for op in ("gt", "gte", "lt", "lte")}
        else:
            exact = get_int(params, "created")
            bounds = {"gte": exact, "lte": exact}

        def ok(row: Obj) -> bool:
            c = row.get("created", 0)
            return not (
                (bounds.get("gt") is not None and not c > bounds["gt"])
                or (bounds.get("gte") is not None and not c >= bounds["gte"])
                or (bounds.get("lt") is not None and not c < bounds["lt"])
                or (bounds.get("lte") is not None and not c <= bounds["lte"])
            )

        return [r for r in rows if ok(r)]

    # =================================================================================================
    # customers
    # =================================================================================================
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

    def customer_retrieve(self, cus_id: str) -> Obj:
        return self.render("customer", self.get("customer", cus_id))

    def customer_update(self, cus_id: str, p: Obj) -> Obj:
        cus = self._live_customer(cus_id)
        before = self.render("customer", cus)
        for field in ("email", "name", "description", "phone"):
            if field in p:
                cus[field] = get_str(p, field)
        if "metadata" in p:
            cus["metadata"] = apply_metadata(cus["metadata"], p["metadata"])
        after = self.render("customer", cus)
        prev = diff_previous(before, after)
        if prev:
            self.emit("customer.updated", "customer", cus, prev)
        return after

    def customer_delete(self, cus_id: str) -> Obj:
        cus = self._live_customer(cus_id)
        for sub in self.store.all("subscription"):
            if sub["customer"] == cus_id and sub["status"] not in ("canceled", "incomplete_expired"):
                self._cancel_now(sub, reason="cancellation_requested")
        snapshot = self.render("customer", cus)
        cus["deleted"] = True
        self._emit_snapshot("customer.deleted", snapshot)
        return {"id": cus_id, "object": "customer", "deleted": True}

    def _emit_snapshot(self, event_type: str, snapshot: Obj) -> None:
        event: Obj = {
            "id": self.store.new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": {"object": snapshot},
            "livemode": False,
            "pending_webhooks": 1 if self.webhooks_enabled() else 0,
            "request": dict(self.request),
            "type": event_type,
        }
        self.store.put("event", event)
        if self.on_event:
            self.on_event(event)

    def customer_list(self, p: Obj) -> Obj:
        rows = [c for c in self.store.all("customer") if not c.get("deleted")]
        email = get_str(p, "email")
        if email is not None:
            rows = [c for c in rows if c.get("email") == email]
        return self.list_object("customer", rows, p, "/v1/customers")

    def _live_customer(self, cus_id: str) -> Obj:
        cus = self.get("customer", cus_id)
        if cus.get("deleted"):
            raise no_such("customer", cus_id)
        return cus

    # =================================================================================================
    # products & prices
    # =================================================================================================
    def product_create(self, p: Obj, *, emit: bool = True) -> Obj:
        name = get_str(p, "name", required=True)
        prod_id = get_str(p, "id")
        if prod_id and self.store.get("product", prod_id):
            raise StripeError(
                f"Product already exists with ID '{prod_id}'.", code="resource_already_exists", param="id"
            )
        now = self.now()
        active = get_bool(p, "active")
        prod: Obj = {
            "id": prod_id or self.store.new_id("prod", 14),
            "object": "product",
            "active": True if active is None else active,
            "created": now,
            "default_price": None,
            "description": get_str(p, "description"),
            "images": [],
            "livemode": False,
            "marketing_features": [],
            "metadata": apply_metadata({}, p.get("metadata")),
            "name": name,
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": None,
            "tax_code": None,
            "type": "service",
            "unit_label": get_str(p, "unit_label"),
            "updated": now,
            "url": None,
        }
        self.store.put("product", prod)
        if emit:
            self.emit("product.created", "product", prod)
        dpd = get_dict(p, "default_price_data")
        if dpd is not None:
            price_params = {k: v for k, v in dpd.items() if k != "metadata"}
            price_params["product"] = prod["id"]
            price = self.price_create(price_params)
            prod["default_price"] = price["id"]
        return self.render("product", prod)

    def product_retrieve(self, prod_id: str) -> Obj:
        return self.render("product", self.get("product", prod_id))

    def product_update(self, prod_id: str, p: Obj) -> Obj:
        prod = self.get("product", prod_id)
        before = self.render("product", prod)
        for field in ("name", "description", "unit_label"):
            if field in p:
                value = get_str(p, field, required=(field == "name"))
                prod[field] = value
        if "active" in p:
            prod["active"] = bool(get_bool(p, "active"))
        if "metadata" in p:
            prod["metadata"] = apply_metadata(prod["metadata"], p["metadata"])
        if "default_price" in p:
            price_id = get_str(p, "default_price")
            if price_id:
                price = self.ref("price", price_id, "default_price")
                if price["product"] != prod_id:
                    raise invalid_param("default_price", "The default price must belong to this product.")
            prod["default_price"] = price_id
        after = self.render("product", prod)
        prev = diff_previous(before, after)
        if prev:
            prod["updated"] = self.now()
            after = self.render("product", prod)
            self.emit("product.updated", "product", prod, prev)
        return after

    def product_delete(self, prod_id: str) -> Obj:
        prod = self.get("product", prod_id)
        if prod.get("deleted"):
            raise no_such("product", prod_id)
        if any(pr["product"] == prod_id for pr in self.store.all("price")):
            raise StripeError("This product cannot be deleted because it has one or more user-created prices.")
        snapshot = self.render("product", prod)
        prod["deleted"] = True
        self._emit_snapshot("product.deleted", snapshot)
        return {"id": prod_id, "object": "product", "deleted": True}

    def product_list(self, p: Obj) -> Obj:
        rows = [r for r in self.store.all("product") if not r.get("deleted")]
        active = get_bool(p, "active")
        if active is not None:
            rows = [r for r in rows if r["active"] == active]
        ids = get_list(p, "ids")
        if ids:
            rows = [r for r in rows if r["id"] in ids]
        return self.list_object("product", rows, p, "/v1/products")

    def price_create(self, p: Obj) -> Obj:
        currency = get_str(p, "currency", required=True)
        assert currency is not None
        currency = currency.lower()
        if p.get("product") not in (None, "") and p.get("product_data") not in (None, ""):
            raise invalid_param("product", "You may only specify one of these parameters: product, product_data.")
        product_data = get_dict(p, "product_data")
        if product_data is not None:
            prod = self.product_create(product_data)
            product_id = prod["id"]
        else:
            product_id = get_str(p, "product")
            if not product_id:
                raise StripeError(
                    "You must specify either `product` or `product_data` when creating a price.",
                    code="parameter_missing",
                    param="product",
                )
            self.ref("product", product_id, "product")
        unit_amount = get_int(p, "unit_amount", minimum=0)
        unit_decimal = get_decimal(p, "unit_amount_decimal")
        if unit_amount is not None and unit_decimal is not None:
            raise invalid_param(
                "unit_amount", "You may only specify one of these parameters: unit_amount, unit_amount_decimal."
            )
        if unit_amount is None and unit_decimal is None:
            raise StripeError("Missing required param: unit_amount.", code="parameter_missing", param="unit_amount")
        if unit_decimal is not None:
            unit_amount = int(unit_decimal) if unit_decimal == unit_decimal.to_integral_value() else None
            unit_decimal_str = _decimal_str(unit_decimal)
        else:
            unit_decimal_str = str(unit_amount)
        recurring_in = get_dict(p, "recurring")
        recurring: Obj | None = None
        if recurring_in is not None:
            interval = get_str(recurring_in, "interval", required=True, param="recurring[interval]")
            if interval not in INTERVALS:
                raise invalid_param(
                    "recurring[interval]",
                    f"Invalid recurring[interval]: must be one of {', '.join(INTERVALS)}",
                )
            count = get_int(recurring_in, "interval_count", minimum=1, param="recurring[interval_count]") or 1
            usage_type = get_str(recurring_in, "usage_type", param="recurring[usage_type]") or "licensed"
            if usage_type not in ("licensed", "metered"):
                raise invalid_param(
                    "recurring[usage_type]", "Invalid recurring[usage_type]: must be one of licensed, metered"
                )
            meter_id = get_str(recurring_in, "meter", param="recurring[meter]")
            if usage_type == "metered":
                if not meter_id:
                    raise StripeError(
                        "Metered prices must be backed by a meter: pass `recurring[meter]`.",
                        code="parameter_missing",
                        param="recurring[meter]",
                    )
                self.ref("billing.meter", meter_id, "recurring[meter]")
            elif meter_id:
                raise invalid_param("recurring[meter]", "A meter can only be set when usage_type is metered.")
            recurring = {
                "interval": interval,
                "interval_count": count,
                "meter": meter_id,
                "trial_period_days": get_int(recurring_in, "trial_period_days", minimum=0),
                "usage_type": usage_type,
            }
        lookup_key = get_str(p, "lookup_key")
        transfer = bool(get_bool(p, "transfer_lookup_key"))
        active = get_bool(p, "active")
        price: Obj = {
            "id": self.store.new_id("price", 24),
            "object": "price",
            "active": True if active is None else active,
            "billing_scheme": "per_unit",
            "created": self.now(),
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": apply_metadata({}, p.get("metadata")),
            "nickname": get_str(p, "nickname"),
            "product": product_id,
            "recurring": recurring,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": unit_decimal_str,
        }
        self._claim_lookup_key(price, lookup_key, transfer)
        self.store.put("price", price)
        self.emit("price.created", "price", price)
        return self.render("price", price)

    def _claim_lookup_key(self, price: Obj, lookup_key: str | None, transfer: bool) -> None:
        if not lookup_key:
            price["lookup_key"] = None
            return
        for other in self.store.all("price"):
            if other["id"] != price["id"] and other.get("lookup_key") == lookup_key:
                if not transfer:
                    raise invalid_param(
                        "lookup_key",
                        f"A price (`{other['id']}`) already uses that lookup key. Pass "
                        "`transfer_lookup_key=true` to move it to this price.",
                    )
                before = self.render("price", other)
                other["lookup_key"] = None
                self.emit("price.updated", "price", other, diff_previous(before, self.render("price", other)))
        price["lookup_key"] = lookup_key

    def price_retrieve(self, price_id: str) -> Obj:
        return self.render("price", self.get("price", price_id))

    def price_update(self, price_id: str, p: Obj) -> Obj:
        price = self.get("price", price_id)
        before = self.render("price", price)
        if "active" in p:
            price["active"] = bool(get_bool(p, "active"))
        if "nickname" in p:
            price["nickname"] = get_str(p, "nickname")
        if "metadata" in p:
            price["metadata"] = apply_metadata(price["metadata"], p["metadata"])
        if "lookup_key" in p:
            self._claim_lookup_key(price, get_str(p, "lookup_key"), bool(get_bool(p, "transfer_lookup_key")))
        after = self.render("price", price)
        prev = diff_previous(before, after)
        if prev:
            self.emit("price.updated", "price", price, prev)
        return after

    def price_list(self, p: Obj) -> Obj:
        rows = self.store.all("price")
        active = get_bool(p, "active")
        if active is not None:
            rows = [r for r in rows if r["active"] == active]
        for field in ("currency", "product", "type"):
            value = get_str(p, field)
            if value is not None:
                rows = [r for r in rows if r[field] == (value.lower() if field == "currency" else value)]
        keys = get_list(p, "lookup_keys")
        if keys is not None:
            if len(keys) > 10:
                raise invalid_param("lookup_keys", "You can pass at most 10 lookup_keys.")
            rows = [r for r in rows if r.get("lookup_key") in keys]
        rec = get_dict(p, "recurring")
        if rec:
            for field in ("interval", "usage_type", "meter"):
                value = rec.get(field)
                if value:
                    rows = [r for r in rows if (r.get("recurring") or {}).get(field) == value]
        return self.list_object("price", rows, p, "/v1/prices")

    # =================================================================================================
    # subscriptions
    # =================================================================================================
    def _item_specs(self, raw: Any, param: str, *, allow_id: bool) -> list[Obj]:
        items = get_list({param: raw}, param)
        specs: list[Obj] = []
        for idx, entry in enumerate(items or []):
            where = f"{param}[{idx}]"
            if not isinstance(entry, dict):
                raise invalid_param(where, f"Invalid object: {where} must be a hash.", "parameter_invalid_object")
            spec: Obj = {"param": where}
            if allow_id:
                spec["id"] = get_str(entry, "id", param=f"{where}[id]")
                spec["deleted"] = bool(get_bool(entry, "deleted", param=f"{where}[deleted]"))
            price_id = get_str(entry, "price", param=f"{where}[price]") or get_str(
                entry, "plan", param=f"{where}[plan]"
            )
            if entry.get("price_data") not in (None, ""):
                raise invalid_param(f"{where}[price_data]", "The stand-in does not support price_data; pass a price.")
            spec["price"] = self._recurring_price(price_id, f"{where}[price]") if price_id else None
            spec["quantity"] = get_int(entry, "quantity", minimum=0, param=f"{where}[quantity]")
            spec["metadata"] = entry.get("metadata")
            if spec["price"] is not None and _metered(spec["price"]) and spec["quantity"] is not None:
                raise invalid_param(
                    f"{where}[quantity]", "Quantity should not be specified where usage_type is `metered`."
                )
            specs.append(spec)
        return specs

    def _recurring_price(self, price_id: str, param: str) -> Obj:
        price = self.ref("price", price_id, param)
        if price["type"] != "recurring":
            raise invalid_param(
                param,
                "The price specified is set to `type=one_time` but this field only accepts prices with "
                "`type=recurring`.",
            )
        if not price["active"]:
            raise invalid_param(param, "The price specified is inactive. This field only accepts active prices.")
        return price

    def _sub_items(self, sub_id: str) -> list[Obj]:
        return [i for i in self.store.all("subscription_item") if i["subscription"] == sub_id]

    def _check_compatible(self, prices: list[Obj], param: str) -> None:
        first = prices[0]
        for price in prices[1:]:
            if price["currency"] != first["currency"]:
                raise invalid_param(
                    param,
                    "Currency and interval fields must match across all plans on this subscription. Found "
                    "mismatch in currency field.",
                )
            if (price["recurring"]["interval"], price["recurring"]["interval_count"]) != (
                first["recurring"]["interval"],
                first["recurring"]["interval_count"],
            ):
                raise invalid_param(
                    param,
                    "Currency and interval fields must match across all plans on this subscription. Found "
                    "mismatch in interval field.",
                )

    def subscription_create(self, p: Obj) -> Obj:
        cus = self.ref("customer", get_str(p, "customer"), "customer")
        if p.get("items") in (None, "", []):
            raise missing_param("items")
        specs = self._item_specs(p.get("items"), "items", allow_id=False)
        for spec in specs:
            if spec["price"] is None:
                raise missing_param(f"{spec['param']}[price]")
        trial_days = get_int(p, "trial_period_days", minimum=0)
        trial_end = self._trial_end_param(p)
        if trial_days is not None and trial_end is not None:
            raise invalid_param(
                "trial_end", "You may only specify one of these parameters: trial_end, trial_period_days."
            )
        behavior = get_str(p, "payment_behavior") or "allow_incomplete"
        if behavior not in ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"):
            raise invalid_param("payment_behavior", f"Invalid payment_behavior: {behavior}")
        sub = self._create_subscription(
            cus,
            [(s["price"], s["quantity"], s["metadata"]) for s in specs],
            metadata=p.get("metadata"),
            trial_days=trial_days,
            trial_end=trial_end,
            default_incomplete=behavior == "default_incomplete",
            cancel_at_period_end=bool(get_bool(p, "cancel_at_period_end")),
            description=get_str(p, "description"),
            default_payment_method=get_str(p, "default_payment_method"),
            billing_reason="subscription_create",
        )
        return self.render("subscription", sub)

    def _trial_end_param(self, p: Obj) -> int | None:
        raw = p.get("trial_end")
        if raw in (None, ""):
            return None
        if raw == "now":
            return self.now()
        value = get_int(p, "trial_end")
        assert value is not None
        if value <= self.now():
            raise invalid_param("trial_end", "Invalid timestamp: must be an integer Unix timestamp in the future.")
        return value

    def _create_subscription(
        self,
        cus: Obj,
        items: list[tuple[Obj, int | None, Any]],
        *,
        metadata: Any,
        trial_days: int | None,
        trial_end: int | None = None,
        default_incomplete: bool = False,
        cancel_at_period_end: bool = False,
        description: str | None = None,
        default_payment_method: str | None = None,
        billing_reason: str = "subscription_create",
    ) -> Obj:
        prices = [it[0] for it in items]
        self._check_compatible(prices, "items")
        now = self.now()
        rec = prices[0]["recurring"]
        if trial_days is not None and trial_days > 0:
            trial_end = now + trial_days * DAY
        trialing = trial_end is not None and trial_end > now
        anchor = trial_end if trialing else now
        assert anchor is not None
        period_end = anchor if trialing else add_interval(anchor, rec["interval"], rec["interval_count"])
        sub: Obj = {
            "id": self.store.new_id("sub", 24),
            "object": "subscription",
            "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": anchor,
            "billing_cycle_anchor_config": None,
            "billing_mode": {"flexible": None, "type": "classic", "updated_at": None},
            "billing_schedules": [],
            "billing_thresholds": None,
            "cancel_at": period_end if cancel_at_period_end else None,
            "cancel_at_period_end": cancel_at_period_end,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": now,
            "currency": prices[0]["currency"],
            "customer": cus["id"],
            "customer_account": None,
            "days_until_due": None,
            "default_payment_method": default_payment_method,
            "default_source": None,
            "default_tax_rates": [],
            "description": description,
            "discounts": [],
            "ended_at": None,
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "latest_invoice": None,
            "livemode": False,
            "metadata": apply_metadata({}, metadata),
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "schedule": None,
            "start_date": now,
            "status": "trialing" if trialing else "active",
            "test_clock": None,
            "transfer_data": None,
            "trial_end": trial_end if trialing else None,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": now if trialing else None,
            "_cycles": 0 if trialing else 1,
            "_pending_lines": [],
        }
        if cus.get("currency") is None:
            cus["currency"] = sub["currency"]
        self.store.put("subscription", sub)
        for price, qty, item_meta in items:
            self._new_item(sub, price, qty, item_meta, now, now, period_end)
        lines = self._period_lines(sub, now, period_end, trial=trialing)
        invoice = self._new_invoice(sub, lines, billing_reason, period_start=now, period_end=now)
        sub["latest_invoice"] = invoice["id"]
        total = sum(line["amount"] for line in lines)
        if default_incomplete and total > 0:
            sub["status"] = "incomplete"
        self.emit("customer.subscription.created", "subscription", sub)
        self.emit("invoice.created", "invoice", invoice)
        self._finalize(invoice)
        if invoice["status"] == "open" and sub["status"] != "incomplete":
            self._attempt_payment(invoice, succeed=True, description="Subscription creation")
        return sub

    def _new_item(self, sub: Obj, price: Obj, qty: int | None, metadata: Any, now: int, start: int, end: int) -> Obj:
        item: Obj = {
            "id": self.store.new_id("si", 14),
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": now,
            "current_period_end": end,
            "current_period_start": start,
            "discounts": [],
            "metadata": apply_metadata({}, metadata),
            "price": price["id"],
            "quantity": None if _metered(price) else (1 if qty is None else qty),
            "subscription": sub["id"],
            "tax_rates": [],
        }
        self.store.put("subscription_item", item)
        return item

    def subscription_retrieve(self, sub_id: str) -> Obj:
        return self.render("subscription", self.get("subscription", sub_id))

    def subscription_list(self, p: Obj) -> Obj:
        rows = self.store.all("subscription")
        rows = _for_customer(rows, p)
        status = get_str(p, "status")
        if status is None:
            rows = [r for r in rows if r["status"] not in ("canceled", "incomplete_expired")]
        elif status == "ended":
            rows = [r for r in rows if r["status"] in ("canceled", "incomplete_expired")]
        elif status != "all":
            if status not in SUB_STATUSES:
                raise invalid_param(
                    "status", f"Invalid status: must be one of {', '.join((*SUB_STATUSES, 'ended', 'all'))}"
                )
            rows = [r for r in rows if r["status"] == status]
        price_id = get_str(p, "price")
        if price_id:
            rows = [r for r in rows if any(i["price"] == price_id for i in self._sub_items(r["id"]))]
        return self.list_object("subscription", rows, p, "/v1/subscriptions")

    def subscription_update(self, sub_id: str, p: Obj) -> Obj:
        sub = self.get("subscription", sub_id)
        if sub["status"] in ("canceled", "incomplete_expired"):
            extra = set(p) - {"metadata", "cancellation_details", "expand"}
            if extra:
                raise StripeError(
                    "A canceled subscription can only update its cancellation_details and metadata.",
                    param=sorted(extra)[0],
                )
        behavior = self._proration_behavior(p)
        before = self.render("subscription", sub)
        invoice_lines: list[Obj] = []
        new_invoice_reason: str | None = None
        if p.get("items") not in (None, "", []):
            specs = self._item_specs(p.get("items"), "items", allow_id=True)
            invoice_lines, new_invoice_reason = self._apply_item_changes(sub, specs, behavior)
        if "metadata" in p:
            sub["metadata"] = apply_metadata(sub["metadata"], p["metadata"])
        for field in ("description", "default_payment_method"):
            if field in p:
                sub[field] = get_str(p, field)
        if "cancellation_details" in p:
            details = get_dict(p, "cancellation_details") or {}
            sub["cancellation_details"] = {
                **sub["cancellation_details"],
                **{k: (details.get(k) or None) for k in ("comment", "feedback") if k in details},
            }
        if "cancel_at_period_end" in p:
            flag = bool(get_bool(p, "cancel_at_period_end"))
            sub["cancel_at_period_end"] = flag
            sub["cancel_at"] = self._period(sub)[1] if flag else None
            sub["canceled_at"] = self.now() if flag else None
            if flag:
                sub["cancellation_details"]["reason"] = "cancellation_requested"
            else:
                sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": None}
        if "cancel_at" in p:
            raw = p.get("cancel_at")
            if raw in (None, ""):
                sub["cancel_at"] = None
                sub["cancel_at_period_end"] = False
            else:
                when = self._period(sub)[1] if raw in ("min_period_end", "max_period_end") else get_int(p, "cancel_at")
                sub["cancel_at"] = when
                sub["cancel_at_period_end"] = when == self._period(sub)[1]
        if "trial_end" in p:
            if p.get("trial_end") == "now":
                if sub["status"] == "trialing":
                    invoice_lines, new_invoice_reason = [], "end_trial"
            else:
                new_end = self._trial_end_param(p)
                if new_end is not None:
                    sub["trial_end"] = new_end
                    sub["trial_start"] = sub["trial_start"] or self.now()
                    sub["status"] = "trialing"
                    sub["billing_cycle_anchor"] = new_end
                    sub["_cycles"] = 0
                    for item in self._sub_items(sub["id"]):
                        item["current_period_end"] = new_end
        if new_invoice_reason == "end_trial":
            self._end_trial(sub, announce=False, early=True)
            return self.render("subscription", sub)
        invoice = None
        if new_invoice_reason is not None:
            invoice = self._new_invoice(
                sub, invoice_lines, "subscription_update", period_start=self.now(), period_end=self.now()
            )
            sub["latest_invoice"] = invoice["id"]
        after = self.render("subscription", sub)
        prev = diff_previous(before, after)
        if prev:
            self.emit("customer.subscription.updated", "subscription", sub, prev)
        if invoice is not None:
            self._run_invoice(invoice, "Subscription update")
            after = self.render("subscription", sub)
        return after

    def _proration_behavior(self, p: Obj) -> str:
        behavior = get_str(p, "proration_behavior") or "create_prorations"
        if behavior not in PRORATION_BEHAVIORS:
            raise invalid_param(
                "proration_behavior", f"Invalid proration_behavior: must be one of {', '.join(PRORATION_BEHAVIORS)}"
            )
        return behavior

    def _run_invoice(self, invoice: Obj, description: str) -> None:
        """Emit invoice.created, finalize and (if anything is due) charge it successfully."""
        self.emit("invoice.created", "invoice", invoice)
        self._finalize(invoice)
        if invoice["status"] == "open":
            self._attempt_payment(invoice, succeed=True, description=description)

    def _period(self, sub: Obj) -> tuple[int, int]:
        items = self._sub_items(sub["id"])
        if not items:
            return sub["created"], sub["created"]
        return items[0]["current_period_start"], items[0]["current_period_end"]

    def _apply_item_changes(self, sub: Obj, specs: list[Obj], behavior: str) -> tuple[list[Obj], str | None]:
        """Apply item add/update/delete specs. Returns (lines to invoice now, reason) when an immediate
        invoice is due (``always_invoice`` or a billing-interval change); otherwise ([], None)."""
        items = {i["id"]: i for i in self._sub_items(sub["id"])}
        now = self.now()
        start, end = self._period(sub)
        changes: list[Obj] = []  # {"item", "old_price", "old_qty", "price", "qty", "metadata"}
        removals: list[Obj] = []
        for spec in specs:
            if spec.get("id"):
                item = items.get(spec["id"])
                if item is None:
                    raise no_such("subscription item", spec["id"], param=f"{spec['param']}[id]", status=400)
                if spec.get("deleted"):
                    removals.append(item)
                    continue
                old_price = self.store.get("price", item["price"])
                assert old_price is not None
                new_price = spec["price"] or old_price
                qty = spec["quantity"] if spec["quantity"] is not None else item["quantity"]
                if _metered(new_price):
                    qty = None
                elif qty is None:
                    qty = 1
                changes.append(
                    {
                        "item": item,
                        "old_price": old_price,
                        "old_qty": item["quantity"],
                        "price": new_price,
                        "qty": qty,
                        "metadata": spec.get("metadata"),
                    }
                )
            else:
                if spec.get("deleted"):
                    raise missing_param(f"{spec['param']}[id]")
                if spec["price"] is None:
                    raise missing_param(f"{spec['param']}[price]")
                qty = None if _metered(spec["price"]) else (1 if spec["quantity"] is None else spec["quantity"])
                changes.append(
                    {
                        "item": None,
                        "old_price": None,
                        "old_qty": None,
                        "price": spec["price"],
                        "qty": qty,
                        "metadata": spec.get("metadata"),
                    }
                )
        touched = {c["item"]["id"] for c in changes if c["item"] is not None} | {i["id"] for i in removals}
        remaining_prices = [c["price"] for c in changes] + [
            pr
            for i in items.values()
            if i["id"] not in touched and (pr := self.store.get("price", i["price"])) is not None
        ]
        if not remaining_prices:
            raise invalid_param("items", "A subscription must have at least one active plan.")
        self._check_compatible(remaining_prices, "items")
        old_rec = next(
            (pr["recurring"] for i in items.values() if (pr := self.store.get("price", i["price"])) is not None),
            None,
        )
        new_rec = remaining_prices[0]["recurring"]
        interval_change = old_rec is not None and (old_rec["interval"], old_rec["interval_count"]) != (
            new_rec["interval"],
            new_rec["interval_count"],
        )
        prorate = behavior != "none" and sub["status"] in ("active", "past_due", "unpaid")
        lines: list[Obj] = []
        if prorate:
            for c in changes:
                item, old_price, new_price = c["item"], c["old_price"], c["price"]
                changed = old_price is None or old_price["id"] != new_price["id"] or c["old_qty"] != c["qty"]
                if (
                    item is not None
                    and old_price is not None
                    and not _metered(old_price)
                    and (interval_change or changed)
                ):
                    lines.append(self._proration_line(sub, item, old_price, c["old_qty"] or 0, -1, now, start, end))
                if not interval_change and not _metered(new_price) and changed:
                    lines.append(self._proration_line(sub, item, new_price, c["qty"] or 0, 1, now, start, end))
            for item in removals:
                price = self.store.get("price", item["price"])
                if price is not None and not _metered(price):
                    lines.append(self._proration_line(sub, item, price, item["quantity"] or 0, -1, now, start, end))
        for item in removals:
            self.store.delete("subscription_item", item["id"])
        for c in changes:
            if c["item"] is None:
                self._new_item(sub, c["price"], c["qty"], c["metadata"], now, start, end)
            else:
                c["item"]["price"] = c["price"]["id"]
                c["item"]["quantity"] = c["qty"]
                if c["metadata"] is not None:
                    c["item"]["metadata"] = apply_metadata(c["item"]["metadata"], c["metadata"])
        lines = [ln for ln in lines if ln["amount"] != 0]
        if interval_change and sub["status"] != "trialing":
            # Stripe resets the billing cycle and invoices the new interval right away.
            sub["billing_cycle_anchor"] = now
            sub["_cycles"] = 1
            new_end = add_interval(now, new_rec["interval"], new_rec["interval_count"])
            for item in self._sub_items(sub["id"]):
                item["current_period_start"] = now
                item["current_period_end"] = new_end
            if sub["cancel_at_period_end"]:
                sub["cancel_at"] = new_end
            lines = lines + sub["_pending_lines"] + self._period_lines(sub, now, new_end, trial=False)
            sub["_pending_lines"] = []
            return lines, "subscription_update"
        if behavior == "always_invoice" and (lines or sub["_pending_lines"]):
            lines = sub["_pending_lines"] + lines
            sub["_pending_lines"] = []
            return lines, "subscription_update"
        if behavior == "create_prorations":
            sub["_pending_lines"].extend(lines)
        return [], None

    def _proration_line(
        self, sub: Obj, item: Obj | None, price: Obj, qty: int, sign: int, now: int, start: int, end: int
    ) -> Obj:
        length = max(1, end - start)
        frac = min(1.0, max(0.0, (end - max(now, start)) / length))
        full = line_amount(price["unit_amount_decimal"], qty)
        amount = sign * round(full * frac)
        product = self._product_name(price)
        verb = "Unused time on" if sign < 0 else "Remaining time on"
        return {
            "kind": "proration",
            "amount": amount,
            "description": f"{verb} {qty} {TIMES} {product} after {fmt_date(max(now, start))}",
            "price": price["id"],
            "product": price["product"],
            "quantity": qty,
            "unit_amount_decimal": price["unit_amount_decimal"],
            "subscription": sub["id"],
            "subscription_item": item["id"] if item else None,
            "period": {"start": max(now, start), "end": end},
            "invoice_item": f"ii_{random_token(24)}",
        }

    def _period_lines(self, sub: Obj, start: int, end: int, *, trial: bool) -> list[Obj]:
        """Licensed items billed in advance for [start, end)."""
        lines = []
        for item in self._sub_items(sub["id"]):
            price = self.store.get("price", item["price"])
            if price is None or _metered(price):
                continue
            qty = item["quantity"] or 0
            product = self._product_name(price)
            if trial:
                amount, desc = 0, f"Trial period for {product}"
            else:
                amount = line_amount(price["unit_amount_decimal"], qty)
                desc = (
                    f"{qty} {TIMES} {product} (at {money(price['unit_amount'], price['currency'])} / "
                    f"{_interval_label(price)})"
                )
            lines.append(
                {
                    "kind": "subscription",
                    "amount": amount,
                    "description": desc,
                    "price": price["id"],
                    "product": price["product"],
                    "quantity": qty,
                    "unit_amount_decimal": price["unit_amount_decimal"],
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                    "period": {"start": start, "end": end},
                }
            )
        return lines

    def _usage_lines(self, sub: Obj, period_start: int, period_end: int) -> list[Obj]:
        """Metered items billed in arrears: sum of not-yet-billed meter events before ``period_end``."""
        lines = []
        for item in self._sub_items(sub["id"]):
            price = self.store.get("price", item["price"])
            if price is None or not _metered(price):
                continue
            meter = self.store.get("billing.meter", price["recurring"]["meter"])
            if meter is None:
                continue
            events = [
                e
                for e in self.store.all("billing.meter_event")
                if e["event_name"] == meter["event_name"]
                and e["payload"].get(meter["customer_mapping"]["event_payload_key"]) == sub["customer"]
                and not e.get("_billed")
                and e["timestamp"] < period_end
            ]
            usage = self._aggregate(meter, events)
            for e in events:
                e["_billed"] = True
            qty = int(usage.to_integral_value()) if usage == usage.to_integral_value() else usage
            amount = int((Decimal(price["unit_amount_decimal"]) * usage).to_integral_value())
            lines.append(
                {
                    "kind": "subscription",
                    "amount": amount,
                    "description": f"{_decimal_str(usage)} {TIMES} {self._product_name(price)} (usage)",
                    "price": price["id"],
                    "product": price["product"],
                    "quantity": qty if isinstance(qty, int) else None,
                    "unit_amount_decimal": price["unit_amount_decimal"],
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                    "period": {"start": period_start, "end": period_end},
                }
            )
        return lines

    def _product_name(self, price: Obj) -> str:
        prod = self.store.get("product", price["product"])
        return prod["name"] if prod else price["product"]

    # -- cancel -------------------------------------------------------------------------------------
    def subscription_cancel(self, sub_id: str, p: Obj) -> Obj:
        sub = self.get("subscription", sub_id)
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise StripeError(f"This subscription ({sub_id}) has already been canceled.", param="subscription")
        details = get_dict(p, "cancellation_details") or {}
        invoice_now = bool(get_bool(p, "invoice_now"))
        prorate = bool(get_bool(p, "prorate"))
        self._cancel_now(
            sub,
            reason="cancellation_requested",
            comment=details.get("comment") or None,
            feedback=details.get("feedback") or None,
            invoice_now=invoice_now,
            prorate=prorate,
        )
        return self.render("subscription", sub)

    def _cancel_now(
        self,
        sub: Obj,
        *,
        reason: str,
        comment: str | None = None,
        feedback: str | None = None,
        invoice_now: bool = False,
        prorate: bool = False,
        at: int | None = None,
    ) -> None:
        now = self.now()
        ended = at if at is not None else now
        lines: list[Obj] = []
        if prorate and sub["status"] in ("active", "past_due"):
            start, end = self._period(sub)
            for item in self._sub_items(sub["id"]):
                price = self.store.get("price", item["price"])
                if price is not None and not _metered(price):
                    lines.append(self._proration_line(sub, item, price, item["quantity"] or 0, -1, now, start, end))
        sub["status"] = "canceled"
        sub["canceled_at"] = sub["canceled_at"] or now
        sub["ended_at"] = ended
        sub["cancellation_details"] = {
            "comment": comment or sub["cancellation_details"].get("comment"),
            "feedback": feedback or sub["cancellation_details"].get("feedback"),
            "reason": reason,
        }
        invoice = None
        if invoice_now:
            start, end = self._period(sub)
            final_lines = sub["_pending_lines"] + lines + self._usage_lines(sub, start, end)
            final_lines = [ln for ln in final_lines if ln["amount"] != 0]
            if final_lines:
                invoice = self._new_invoice(sub, final_lines, "subscription_update", period_start=start, period_end=now)
                sub["latest_invoice"] = invoice["id"]
        elif lines:
            # prorated credit without an invoice goes to the customer's credit balance
            cus = self.store.get("customer", sub["customer"])
            if cus is not None:
                cus["balance"] += sum(ln["amount"] for ln in lines)
        sub["_pending_lines"] = []
        self.emit("customer.subscription.deleted", "subscription", sub)
        if invoice is not None:
            self._run_invoice(invoice, "Subscription cancellation")

    # -- subscription items ---------------------------------------------------------------------------
    def subscription_item_retrieve(self, si_id: str) -> Obj:
        return self.render("subscription_item", self.get("subscription_item", si_id))

    def subscription_item_list(self, p: Obj) -> Obj:
        sub_id = get_str(p, "subscription", required=True)
        assert sub_id is not None
        rows = self._sub_items(sub_id)
        return self.list_object("subscription_item", rows, p, "/v1/subscription_items")

    def subscription_item_update(self, si_id: str, p: Obj) -> Obj:
        item = self.get("subscription_item", si_id)
        spec: Obj = {"id": si_id, "param": "item", "deleted": False, "metadata": p.get("metadata")}
        price_id = get_str(p, "price") or get_str(p, "plan")
        spec["price"] = self._recurring_price(price_id, "price") if price_id else None
        spec["quantity"] = get_int(p, "quantity", minimum=0)
        return self._item_endpoint(item["subscription"], spec, p, si_id)

    def subscription_item_create(self, p: Obj) -> Obj:
        sub_id = get_str(p, "subscription", required=True)
        assert sub_id is not None
        self.ref("subscription", sub_id, "subscription")
        price_id = get_str(p, "price", required=True)
        assert price_id is not None
        spec: Obj = {
            "id": None,
            "param": "item",
            "deleted": False,
            "metadata": p.get("metadata"),
            "price": self._recurring_price(price_id, "price"),
            "quantity": get_int(p, "quantity", minimum=0),
        }
        if any(i["price"] == price_id for i in self._sub_items(sub_id)):
            raise invalid_param("price", "Cannot add multiple subscription items with the same price.")
        known = {i["id"] for i in self._sub_items(sub_id)}
        self._item_endpoint(sub_id, spec, p, None)
        new = [i for i in self._sub_items(sub_id) if i["id"] not in known]
        return self.render("subscription_item", new[0])

    def subscription_item_delete(self, si_id: str, p: Obj) -> Obj:
        item = self.get("subscription_item", si_id)
        spec: Obj = {"id": si_id, "param": "item", "deleted": True, "metadata": None, "price": None, "quantity": None}
        self._item_endpoint(item["subscription"], spec, p, None)
        return {"id": si_id, "object": "subscription_item", "deleted": True}

    def _item_endpoint(self, sub_id: str, spec: Obj, p: Obj, si_id: str | None) -> Obj:
        sub = self.get("subscription", sub_id)
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise StripeError("A canceled subscription's items cannot be changed.", param="subscription")
        behavior = self._proration_behavior(p)
        before = self.render("subscription", sub)
        lines, reason = self._apply_item_changes(sub, [spec], behavior)
        invoice = None
        if reason is not None:
            invoice = self._new_invoice(
                sub, lines, "subscription_update", period_start=self.now(), period_end=self.now()
            )
            sub["latest_invoice"] = invoice["id"]
        prev = diff_previous(before, self.render("subscription", sub))
        if prev:
            self.emit("customer.subscription.updated", "subscription", sub, prev)
        if invoice is not None:
            self._run_invoice(invoice, "Subscription update")
        if si_id:
            return self.render("subscription_item", self.get("subscription_item", si_id))
        return {}

    # =================================================================================================
    # invoices, payments, charges, refunds
    # =================================================================================================
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
            "lines": {
                "object": "list",
                "data": line_objs,
                "has_more": False,
                "total_count": len(line_objs),
                "url": f"/v1/invoices/{inv_id}/lines",
            },
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
            "refunds": {"object": "list", "data": [], "has_more": False, "url": f"/v1/charges/{ch_id}/refunds"},
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

    def invoice_create_preview(self, p: Obj) -> Obj:
        """POST /v1/invoices/create_preview for a subscription change: what the change would invoice, shaped
        like an invoice (Stripe returns an `upcoming_in_…` id and stores nothing). Models
        `subscription_details[items]` (id + price/quantity) with `proration_behavior` `always_invoice`
        (the prorations due now) or `create_prorations` (prorations plus the next period's charge)."""
        sub_id = get_str(p, "subscription")
        if not sub_id:
            raise missing_param("subscription")
        sub = self.get("subscription", sub_id)
        details = get_dict(p, "subscription_details") or {}
        behavior = self._proration_behavior(details)
        specs = self._item_specs(details.get("items"), "subscription_details[items]", allow_id=True)
        items = {i["id"]: i for i in self._sub_items(sub["id"])}
        now = self.now()
        start, end = self._period(sub)
        prorate = behavior != "none" and sub["status"] in ("active", "past_due", "unpaid")
        lines: list[Obj] = []
        next_lines: list[Obj] = []
        for spec in specs:
            item = items.get(spec.get("id") or "")
            if item is None:
                raise no_such("subscription item", spec.get("id") or "", param=f"{spec['param']}[id]", status=400)
            old_price = self.get("price", item["price"])
            new_price = spec["price"] or old_price
            qty = spec["quantity"] if spec["quantity"] is not None else item["quantity"] or 1
            if prorate and (old_price["id"] != new_price["id"] or qty != item["quantity"]):
                lines.append(self._proration_line(sub, item, old_price, item["quantity"] or 0, -1, now, start, end))
                lines.append(self._proration_line(sub, item, new_price, qty, 1, now, start, end))
            if behavior == "create_prorations":
                amount = line_amount(new_price["unit_amount_decimal"], qty)
                next_lines.append(
                    {
                        **self._proration_line(sub, item, new_price, qty, 1, end, end, end),
                        "kind": "subscription",
                        "amount": amount,
                        "description": f"{qty} {TIMES} {self._product_name(new_price)}",
                        "period": {"start": end, "end": end + (end - start)},
                    }
                )
        lines = [ln for ln in lines if ln["amount"] != 0]
        if behavior == "create_prorations":
            lines = list(sub["_pending_lines"]) + lines + next_lines
        invoice = self._new_invoice(sub, lines, "subscription_update", period_start=now, period_end=now)
        self.store.delete("invoice", invoice["id"])
        preview = self.render("invoice", invoice)
        preview_id = "upcoming_" + invoice["id"]
        preview["id"] = preview_id
        preview["lines"]["url"] = f"/v1/invoices/{preview_id}/lines"
        for line in preview["lines"]["data"]:
            line["invoice"] = preview_id
        return preview

    def invoice_retrieve(self, inv_id: str) -> Obj:
        return self.render("invoice", self.get("invoice", inv_id))

    def invoice_list(self, p: Obj) -> Obj:
        rows = self.store.all("invoice")
        rows = _for_customer(rows, p)
        sub_id = get_str(p, "subscription")
        if sub_id:
            rows = [r for r in rows if _invoice_sub(r) == sub_id]
        status = get_str(p, "status")
        if status:
            if status not in ("draft", "open", "paid", "uncollectible", "void"):
                raise invalid_param(
                    "status", "Invalid status: must be one of draft, open, paid, uncollectible, or void"
                )
            rows = [r for r in rows if r["status"] == status]
        return self.list_object("invoice", rows, p, "/v1/invoices")

    def invoice_lines(self, inv_id: str, p: Obj) -> Obj:
        invoice = self.get("invoice", inv_id)
        data = invoice["lines"]["data"]
        return {"object": "list", "data": public(data), "has_more": False, "url": f"/v1/invoices/{inv_id}/lines"}

    def invoice_pay(self, inv_id: str, p: Obj | None = None) -> Obj:
        invoice = self.get("invoice", inv_id)
        if invoice["status"] == "paid":
            raise StripeError("Invoice is already paid", code="invoice_already_paid")
        if invoice["status"] != "open":
            raise StripeError(f"You can only pay an open invoice. This invoice is {invoice['status']}.")
        self._pay_open_invoice(invoice)
        return self.render("invoice", invoice)

    def _pay_open_invoice(self, invoice: Obj) -> None:
        self._attempt_payment(invoice, succeed=True, description="Payment for Invoice")
        sub_id = _invoice_sub(invoice)
        sub = self.store.get("subscription", sub_id) if sub_id else None
        if sub is not None and sub["status"] in ("past_due", "unpaid", "incomplete"):
            before = self.render("subscription", sub)
            sub["status"] = "active"
            self.emit(
                "customer.subscription.updated",
                "subscription",
                sub,
                diff_previous(before, self.render("subscription", sub)),
            )

    def invoice_void(self, inv_id: str) -> Obj:
        invoice = self.get("invoice", inv_id)
        if invoice["status"] != "open":
            raise StripeError(f"You can only void an open invoice. This invoice is {invoice['status']}.")
        before = self.render("invoice", invoice)
        invoice["status"] = "void"
        invoice["amount_remaining"] = 0
        invoice["status_transitions"]["voided_at"] = self.now()
        self.emit("invoice.voided", "invoice", invoice)
        self.emit("invoice.updated", "invoice", invoice, diff_previous(before, self.render("invoice", invoice)))
        return self.render("invoice", invoice)

    def invoice_payment_list(self, p: Obj) -> Obj:
        rows = self.store.all("invoice_payment")
        inv_id = get_str(p, "invoice")
        if inv_id:
            rows = [r for r in rows if r["invoice"] == inv_id]
        payment = get_dict(p, "payment")
        if payment:  # Stripe filters on payment[type] and payment[payment_intent] / payment[payment_record]
            kind = get_str(payment, "type", required=True, param="payment[type]")
            if kind not in ("payment_intent", "payment_record"):
                raise invalid_param(
                    "payment[type]", "Invalid payment[type]: must be one of payment_intent or payment_record"
                )
            wanted = get_str(payment, kind, param=f"payment[{kind}]")
            rows = [r for r in rows if r["payment"].get("type") == kind and r["payment"].get(kind) == wanted]
        status = get_str(p, "status")
        if status:
            rows = [r for r in rows if r["status"] == status]
        return self.list_object("invoice_payment", rows, p, "/v1/invoice_payments")

    def invoice_payment_retrieve(self, pay_id: str) -> Obj:
        return self.render("invoice_payment", self.get("invoice_payment", pay_id))

    def charge_retrieve(self, ch_id: str) -> Obj:
        return self.render("charge", self.get("charge", ch_id))

    def charge_list(self, p: Obj) -> Obj:
        rows = self.store.all("charge")
        rows = _for_customer(rows, p)
        return self.list_object("charge", rows, p, "/v1/charges")

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
        self.emit("charge.refunded", "charge", charge, diff_previous(before, self.render("charge", charge)))
        return refund

    def refund_retrieve(self, re_id: str) -> Obj:
        return self.render("refund", self.get("refund", re_id))

    def refund_list(self, p: Obj) -> Obj:
        rows = self.store.all("refund")
        ch_id = get_str(p, "charge")
        if ch_id:
            rows = [r for r in rows if r["charge"] == ch_id]
        return self.list_object("refund", rows, p, "/v1/refunds")

    # =================================================================================================
    # checkout
    # =================================================================================================
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
            if _metered(price):
                if qty is not None:
                    raise invalid_param(
                        f"{where}[quantity]", "Quantity should not be specified where usage_type is `metered`."
                    )
            elif qty is None:
                raise StripeError(
                    f"Quantity is required. Add `quantity` to `{where}`.",
                    code="parameter_missing",
                    param=f"{where}[quantity]",
                )
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

    def checkout_retrieve(self, cs_id: str) -> Obj:
        return self.render("checkout.session", self.checkout_session(cs_id))

    def checkout_list(self, p: Obj) -> Obj:
        rows = self.store.all("checkout.session")
        for field in ("customer", "subscription", "status"):
            value = get_str(p, field)
            if value:
                rows = [r for r in rows if r.get(field) == value]
        return self.list_object("checkout.session", rows, p, "/v1/checkout/sessions")

    def checkout_line_items(self, cs_id: str, p: Obj) -> Obj:
        session = self.checkout_session(cs_id)
        data = [self._checkout_line_item(session, row) for row in session["_line_items"]]
        return {"object": "list", "data": data, "has_more": False, "url": f"/v1/checkout/sessions/{cs_id}/line_items"}

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

    # =================================================================================================
    # billing portal
    # =================================================================================================
    def portal_create(self, p: Obj) -> Obj:
        cus = self.ref("customer", get_str(p, "customer"), "customer")
        flow_in = get_dict(p, "flow_data")
        flow: Obj | None = None
        if flow_in is not None:
            ftype = get_str(flow_in, "type", required=True, param="flow_data[type]")
            flow = {"type": ftype, "after_completion": {"type": "portal_homepage"}}
            for key in ("subscription_cancel", "subscription_update", "subscription_update_confirm"):
                sub_part = flow_in.get(key)
                if isinstance(sub_part, dict) and sub_part.get("subscription"):
                    self.ref("subscription", sub_part["subscription"], f"flow_data[{key}][subscription]")
                    flow[key] = {"subscription": sub_part["subscription"]}
        bps_id = self.store.new_id("bps", 24)
        session: Obj = {
            "id": bps_id,
            "object": "billing_portal.session",
            "configuration": "bpc_standin_default",
            "created": self.now(),
            "customer": cus["id"],
            "customer_account": None,
            "flow": flow,
            "livemode": False,
            "locale": None,
            "on_behalf_of": None,
            "return_url": get_str(p, "return_url"),
            "url": f"{self.public_url}/portal/{bps_id}",
        }
        self.store.put("billing_portal.session", session)
        return self.render("billing_portal.session", session)

    def portal_change_plan(self, bps_id: str, sub_id: str, price_id: str | None, quantity: int | None) -> Obj:
        session = self.get("billing_portal.session", bps_id)
        sub = self._portal_sub(session, sub_id)
        items = self._sub_items(sub["id"])
        if not items:
            raise StripeError("This subscription has no items.")
        entry: Obj = {"id": items[0]["id"]}
        if price_id:
            entry["price"] = price_id
        if quantity is not None:
            entry["quantity"] = str(quantity)
        return self.subscription_update(sub["id"], {"items": [entry], "proration_behavior": "create_prorations"})

    def portal_cancel(self, bps_id: str, sub_id: str, when: str) -> Obj:
        session = self.get("billing_portal.session", bps_id)
        sub = self._portal_sub(session, sub_id)
        if when == "now":
            self._cancel_now(sub, reason="cancellation_requested")
            return self.render("subscription", sub)
        return self.subscription_update(sub["id"], {"cancel_at_period_end": "true"})

    def portal_reactivate(self, bps_id: str, sub_id: str) -> Obj:
        session = self.get("billing_portal.session", bps_id)
        sub = self._portal_sub(session, sub_id)
        return self.subscription_update(sub["id"], {"cancel_at_period_end": "false"})

    def _portal_sub(self, session: Obj, sub_id: str) -> Obj:
        sub = self.store.get("subscription", sub_id)
        if sub is None or sub["customer"] != session["customer"]:
            raise StripeError("That subscription does not belong to this portal session's customer.")
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise StripeError("That subscription is already canceled.")
        return sub

    # =================================================================================================
    # billing meters
    # =================================================================================================
    def meter_create(self, p: Obj) -> Obj:
        display_name = get_str(p, "display_name", required=True)
        event_name = get_str(p, "event_name", required=True)
        agg = get_dict(p, "default_aggregation")
        if agg is None:
            raise missing_param("default_aggregation")
        formula = get_str(agg, "formula", required=True, param="default_aggregation[formula]")
        if formula not in ("count", "last", "sum"):
            raise invalid_param("default_aggregation[formula]", "Invalid formula: must be one of count, last, or sum")
        for existing in self.store.all("billing.meter"):
            if existing["event_name"] == event_name and existing["status"] == "active":
                raise invalid_param(
                    "event_name", f"An active meter with event_name `{event_name}` already exists ({existing['id']})."
                )
        mapping = get_dict(p, "customer_mapping") or {}
        values = get_dict(p, "value_settings") or {}
        now = self.now()
        meter: Obj = {
            "id": self.store.new_id("mtr", 24),
            "object": "billing.meter",
            "created": now,
            "customer_mapping": {
                "event_payload_key": mapping.get("event_payload_key") or "stripe_customer_id",
                "type": mapping.get("type") or "by_id",
            },
            "default_aggregation": {"formula": formula},
            "display_name": display_name,
            "event_name": event_name,
            "event_time_window": None,
            "livemode": False,
            "status": "active",
            "status_transitions": {"deactivated_at": None},
            "updated": now,
            "value_settings": {"event_payload_key": values.get("event_payload_key") or "value"},
        }
        self.store.put("billing.meter", meter)
        return self.render("billing.meter", meter)

    def meter_retrieve(self, mtr_id: str) -> Obj:
        return self.render("billing.meter", self.get("billing.meter", mtr_id))

    def meter_update(self, mtr_id: str, p: Obj) -> Obj:
        meter = self.get("billing.meter", mtr_id)
        if "display_name" in p:
            meter["display_name"] = get_str(p, "display_name", required=True)
            meter["updated"] = self.now()
        return self.render("billing.meter", meter)

    def meter_set_status(self, mtr_id: str, active: bool) -> Obj:
        meter = self.get("billing.meter", mtr_id)
        meter["status"] = "active" if active else "inactive"
        meter["status_transitions"]["deactivated_at"] = None if active else self.now()
        meter["updated"] = self.now()
        return self.render("billing.meter", meter)

    def meter_list(self, p: Obj) -> Obj:
        rows = self.store.all("billing.meter")
        status = get_str(p, "status")
        if status:
            rows = [r for r in rows if r["status"] == status]
        return self.list_object("billing.meter", rows, p, "/v1/billing/meters")

    def meter_event_summaries(self, mtr_id: str, p: Obj) -> Obj:
        meter = self.get("billing.meter", mtr_id)
        cus_id = get_str(p, "customer", required=True)
        start = get_int(p, "start_time", required=True)
        end = get_int(p, "end_time", required=True)
        assert start is not None and end is not None
        events = [
            e
            for e in self.store.all("billing.meter_event")
            if e["event_name"] == meter["event_name"]
            and e["payload"].get(meter["customer_mapping"]["event_payload_key"]) == cus_id
            and start <= e["timestamp"] < end
        ]
        value = self._aggregate(meter, events)
        summary = {
            "id": f"mtrusg_{random_token(24)}",
            "object": "billing.meter_event_summary",
            "aggregated_value": float(value),
            "end_time": end,
            "livemode": False,
            "meter": mtr_id,
            "start_time": start,
        }
        return {
            "object": "list",
            "data": [summary],
            "has_more": False,
            "url": f"/v1/billing/meters/{mtr_id}/event_summaries",
        }

    def _aggregate(self, meter: Obj, events: list[Obj]) -> Decimal:
        key = meter["value_settings"]["event_payload_key"]
        formula = meter["default_aggregation"]["formula"]
        if formula == "count":
            return Decimal(len(events))
        values = [Decimal(str(e["payload"].get(key, "0"))) for e in events]
        if not values:
            return Decimal(0)
        if formula == "last":
            latest = max(events, key=lambda e: (e["timestamp"], e["_seq"]))
            return Decimal(str(latest["payload"].get(key, "0")))
        return sum(values, Decimal(0))

    def meter_event_create(self, p: Obj) -> Obj:
        event_name = get_str(p, "event_name", required=True)
        payload = get_dict(p, "payload")
        if payload is None:
            raise missing_param("payload")
        payload = {str(k): str(v) for k, v in payload.items()}
        meter = next(
            (m for m in self.store.all("billing.meter") if m["event_name"] == event_name and m["status"] == "active"),
            None,
        )
        cus_key = meter["customer_mapping"]["event_payload_key"] if meter else "stripe_customer_id"
        value_key = meter["value_settings"]["event_payload_key"] if meter else "value"
        if not payload.get(cus_key):
            raise missing_param(f"payload[{cus_key}]")
        if value_key in payload:
            try:
                Decimal(payload[value_key])
            except ArithmeticError:
                raise invalid_param(
                    f"payload[{value_key}]", f"Invalid value for payload[{value_key}]: must be a number."
                ) from None
        elif not meter or meter["default_aggregation"]["formula"] != "count":
            raise missing_param(f"payload[{value_key}]")
        now = self.now()
        timestamp = get_int(p, "timestamp")
        if timestamp is None:
            timestamp = now
        if timestamp < now - METER_MAX_AGE or timestamp > now + METER_MAX_FUTURE:
            raise invalid_param(
                "timestamp",
                "Timestamp must be within the past 35 days and not more than 5 minutes in the future.",
                "timestamp_out_of_range",
            )
        identifier = get_str(p, "identifier") or random_token(32)
        for key, seen in list(self.store.meter_identifiers.items()):
            if seen < now - METER_IDENTIFIER_TTL:
                del self.store.meter_identifiers[key]
        if identifier in self.store.meter_identifiers:
            raise StripeError(
                f"An event already exists with identifier {identifier}.",
                param="identifier",
                headers={"Stripe-Should-Retry": "false"},
            )
        self.store.meter_identifiers[identifier] = now
        event: Obj = {
            "id": self.store.new_id("mev"),
            "object": "billing.meter_event",
            "created": now,
            "event_name": event_name,
            "identifier": identifier,
            "livemode": False,
            "payload": payload,
            "timestamp": timestamp,
        }
        self.store.put("billing.meter_event", event)
        return public(_without_id(event))

    def meter_events_for(self, customer: str | None, event_name: str | None) -> Obj:
        rows = self.store.all("billing.meter_event")
        if customer:
            rows = [r for r in rows if customer in r["payload"].values()]
        if event_name:
            rows = [r for r in rows if r["event_name"] == event_name]
        data = [{**_without_id(public(r)), "standin_billed": bool(r.get("_billed"))} for r in rows]
        return {"object": "list", "data": data, "has_more": False, "url": "/_standin/meter_events"}

    # =================================================================================================
    # events
    # =================================================================================================
    def event_retrieve(self, evt_id: str) -> Obj:
        return self.render("event", self.get("event", evt_id))

    def event_list(self, p: Obj) -> Obj:
        rows = self.store.all("event")
        wanted = get_list(p, "types") or []
        single = get_str(p, "type")
        if single:
            wanted = [*wanted, single]
        if wanted:
            rows = [r for r in rows if any(_type_matches(r["type"], w) for w in wanted)]
        return self.list_object("event", rows, p, "/v1/events")

    # =================================================================================================
    # time control (stand-in only)
    # =================================================================================================
    def advance(self, sub_id: str, action: str) -> Obj:
        sub = self.get("subscription", sub_id)
        if action == "renew":
            self._renew(sub, succeed=True)
        elif action == "fail_payment":
            self._fail_payment(sub)
        elif action == "trial_end":
            if sub["status"] != "trialing":
                raise invalid_param("subscription", f"Subscription {sub_id} is not trialing (status: {sub['status']}).")
            self._end_trial(sub, announce=True, early=False)
        elif action == "trial_will_end":
            if sub["status"] != "trialing":
                raise invalid_param("subscription", f"Subscription {sub_id} is not trialing (status: {sub['status']}).")
            self.emit("customer.subscription.trial_will_end", "subscription", sub)
        elif action == "require_action":
            self._require_action(sub)
        elif action == "pay":
            invoice = self._latest_open_invoice(sub)
            if invoice is None:
                raise invalid_param("subscription", f"Subscription {sub_id} has no open invoice to pay.")
            self._pay_open_invoice(invoice)
        else:
            raise invalid_param(
                "action",
                "Invalid action: must be one of renew, fail_payment, require_action, trial_end, trial_will_end, pay",
            )
        invoice = self.store.get("invoice", sub["latest_invoice"]) if sub.get("latest_invoice") else None
        return {
            "object": "standin.advance",
            "action": action,
            "subscription": self.render("subscription", sub),
            "latest_invoice": self.render("invoice", invoice) if invoice else None,
        }

    def _latest_open_invoice(self, sub: Obj) -> Obj | None:
        rows = [i for i in self.store.all("invoice") if _invoice_sub(i) == sub["id"] and i["status"] == "open"]
        return rows[-1] if rows else None

    def _require_live(self, sub: Obj) -> None:
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise invalid_param("subscription", f"Subscription {sub['id']} is {sub['status']}.")

    def _roll_period(self, sub: Obj) -> tuple[int, int, int, int]:
        """Move every item to the next period; returns (old_start, old_end, new_start, new_end)."""
        old_start, old_end = self._period(sub)
        items = self._sub_items(sub["id"])
        price = self.store.get("price", items[0]["price"]) if items else None
        rec: Obj = price["recurring"] if price else {"interval": "month", "interval_count": 1}
        sub["_cycles"] = int(sub.get("_cycles", 1)) + 1
        new_end = add_interval(sub["billing_cycle_anchor"], rec["interval"], rec["interval_count"] * sub["_cycles"])
        if new_end <= old_end:  # anchor was reset mid-way; continue from the current end
            new_end = add_interval(old_end, rec["interval"], rec["interval_count"])
        for item in items:
            item["current_period_start"] = old_end
            item["current_period_end"] = new_end
        return old_start, old_end, old_end, new_end

    def _cycle_invoice(self, sub: Obj) -> Obj:
        before_start, before_end = self._period(sub)
        usage = self._usage_lines(sub, before_start, before_end)
        _, _, new_start, new_end = self._roll_period(sub)
        lines = self._period_lines(sub, new_start, new_end, trial=False) + usage + sub["_pending_lines"]
        sub["_pending_lines"] = []
        invoice = self._new_invoice(sub, lines, "subscription_cycle", period_start=before_start, period_end=before_end)
        sub["latest_invoice"] = invoice["id"]
        return invoice

    def _renew(self, sub: Obj, *, succeed: bool) -> None:
        self._require_live(sub)
        if sub["status"] == "trialing":
            self._end_trial(sub, announce=False, early=False)
            return
        _start, end = self._period(sub)
        if sub["cancel_at_period_end"] or (sub.get("cancel_at") and sub["cancel_at"] <= end):
            self._cancel_now(sub, reason="cancellation_requested", at=end)
            return
        before = self.render("subscription", sub)
        invoice = self._cycle_invoice(sub)
        self.emit("invoice.created", "invoice", invoice)
        self._finalize(invoice)
        if invoice["status"] == "open":
            self._attempt_payment(invoice, succeed=succeed, description="Subscription update")
            sub["status"] = "active" if succeed else "past_due"
        else:
            sub["status"] = "active"
        self.emit(
            "customer.subscription.updated",
            "subscription",
            sub,
            diff_previous(before, self.render("subscription", sub)),
        )

    def _fail_payment(self, sub: Obj) -> None:
        self._require_live(sub)
        open_invoice = self._latest_open_invoice(sub)
        if open_invoice is not None:
            before = self.render("subscription", sub)
            self._attempt_payment(open_invoice, succeed=False, description="Payment for Invoice")
            if sub["status"] == "active":
                sub["status"] = "past_due"
            prev = diff_previous(before, self.render("subscription", sub))
            if prev:
                self.emit("customer.subscription.updated", "subscription", sub, prev)
            return
        if sub["status"] == "trialing":
            before = self.render("subscription", sub)
            invoice = self._trial_conversion_invoice(sub)
            self.emit("invoice.created", "invoice", invoice)
            self._finalize(invoice)
            if invoice["status"] == "open":
                self._attempt_payment(invoice, succeed=False, description="Subscription update")
                sub["status"] = "past_due"
            else:
                sub["status"] = "active"
            self.emit(
                "customer.subscription.updated",
                "subscription",
                sub,
                diff_previous(before, self.render("subscription", sub)),
            )
            return
        self._renew(sub, succeed=False)

    def _require_action(self, sub: Obj) -> None:
        """The next payment needs the customer to authenticate (3-D Secure / SCA): the latest open invoice,
        or else the trial conversion or the next renewal invoice, is attempted off-session, no charge is
        made, the invoice stays open and Stripe sends ``invoice.payment_action_required``; the subscription
        becomes past_due until the customer confirms on the hosted invoice page (``/invoice/<id>/pay``)."""
        self._require_live(sub)
        before = self.render("subscription", sub)
        invoice = self._latest_open_invoice(sub)
        if invoice is None:
            if sub["status"] == "trialing":
                invoice = self._trial_conversion_invoice(sub)
            else:
                _start, end = self._period(sub)
                if sub["cancel_at_period_end"] or (sub.get("cancel_at") and sub["cancel_at"] <= end):
                    raise invalid_param("subscription", f"Subscription {sub['id']} ends at the period end.")
                invoice = self._cycle_invoice(sub)
            self.emit("invoice.created", "invoice", invoice)
            self._finalize(invoice)
        if invoice["status"] == "open":
            invoice["attempt_count"] += 1
            invoice["attempted"] = True
            invoice["next_payment_attempt"] = None  # no automatic retry: only the customer can authenticate
            self.emit("invoice.payment_action_required", "invoice", invoice)
            if sub["status"] in ("active", "trialing"):
                sub["status"] = "past_due"
        elif sub["status"] == "trialing":
            sub["status"] = "active"  # nothing was due
        prev = diff_previous(before, self.render("subscription", sub))
        if prev:
            self.emit("customer.subscription.updated", "subscription", sub, prev)

    def _trial_conversion_invoice(self, sub: Obj) -> Obj:
        start, end = self._period(sub)
        items = self._sub_items(sub["id"])
        price = self.store.get("price", items[0]["price"]) if items else None
        rec: Obj = price["recurring"] if price else {"interval": "month", "interval_count": 1}
        anchor = sub["trial_end"] or end
        sub["billing_cycle_anchor"] = anchor
        sub["_cycles"] = 1
        new_end = add_interval(anchor, rec["interval"], rec["interval_count"])
        usage = self._usage_lines(sub, start, end)
        for item in items:
            item["current_period_start"] = anchor
            item["current_period_end"] = new_end
        lines = self._period_lines(sub, anchor, new_end, trial=False) + usage + sub["_pending_lines"]
        sub["_pending_lines"] = []
        invoice = self._new_invoice(sub, lines, "subscription_cycle", period_start=start, period_end=end)
        sub["latest_invoice"] = invoice["id"]
        return invoice

    def _end_trial(self, sub: Obj, *, announce: bool, early: bool) -> None:
        """Convert trialing -> active. ``early`` (``trial_end=now``) moves trial_end to now; the time-control
        action keeps the scheduled trial_end as the new billing anchor."""
        if announce:
            self.emit("customer.subscription.trial_will_end", "subscription", sub)
        before = self.render("subscription", sub)
        if early or sub["trial_end"] is None:
            sub["trial_end"] = self.now()
        invoice = self._trial_conversion_invoice(sub)
        self.emit("invoice.created", "invoice", invoice)
        self._finalize(invoice)
        if invoice["status"] == "open":
            self._attempt_payment(invoice, succeed=True, description="Subscription update")
        sub["status"] = "active"
        self.emit(
            "customer.subscription.updated",
            "subscription",
            sub,
            diff_previous(before, self.render("subscription", sub)),
        )

    def refund_charge(self, ch_id: str, amount: int | None) -> Obj:
        charge = self.ref("charge", ch_id, "charge")
        self._refund(charge, amount)
        return self.render("charge", charge)


class _Missing:
    pass


_MISSING: Any = _Missing()


def _metered(price: Obj) -> bool:
    return bool(price.get("recurring")) and price["recurring"].get("usage_type") == "metered"


def _interval_label(price: Obj) -> str:
    rec = price.get("recurring") or {}
    count = rec.get("interval_count", 1)
    interval = rec.get("interval", "month")
    return interval if count == 1 else f"{count} {interval}s"


def _invoice_sub(invoice: Obj) -> str | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return details.get("subscription")


def _decimal_str(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _without_id(event: Obj) -> Obj:
    return {k: v for k, v in event.items() if k != "id"}


def _type_matches(event_type: str, pattern: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def _for_customer(rows: list[Obj], p: Obj) -> list[Obj]:
    """Apply the `customer` list filter Stripe's list endpoints share."""
    cus_id = get_str(p, "customer")
    return [r for r in rows if r["customer"] == cus_id] if cus_id else rows
