"""Products and prices."""

from __future__ import annotations

from deploy.stripe_standin.errors import StripeError, invalid_param, missing_param, no_such
from deploy.stripe_standin.resources.core import EngineCore, Resource
from deploy.stripe_standin.resources.meters import Meters
from deploy.stripe_standin.util import (
    INTERVALS,
    Obj,
    apply_metadata,
    decimal_str,
    diff_previous,
    get_bool,
    get_decimal,
    get_dict,
    get_int,
    get_list,
    get_str,
)

MAX_LOOKUP_KEYS = 10  # Stripe's limit


class Catalog(Meters):
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
        self.emit_data("product.deleted", snapshot)
        return {"id": prod_id, "object": "product", "deleted": True}

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
                raise missing_param(
                    "product", "You must specify either `product` or `product_data` when creating a price."
                )
            self.ref("product", product_id, "product")
        unit_amount = get_int(p, "unit_amount", minimum=0)
        unit_decimal = get_decimal(p, "unit_amount_decimal")
        if unit_amount is not None and unit_decimal is not None:
            raise invalid_param(
                "unit_amount", "You may only specify one of these parameters: unit_amount, unit_amount_decimal."
            )
        if unit_amount is None and unit_decimal is None:
            raise missing_param("unit_amount")
        if unit_decimal is not None:
            unit_amount = int(unit_decimal) if unit_decimal == unit_decimal.to_integral_value() else None
            unit_decimal_str = decimal_str(unit_decimal)
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
                    raise missing_param(
                        "recurring[meter]", "Metered prices must be backed by a meter: pass `recurring[meter]`."
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
                self.emit_change("price.updated", "price", other, before, always=True)
        price["lookup_key"] = lookup_key

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
        return self.emit_change("price.updated", "price", price, before)

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

    def _product_name(self, price: Obj) -> str:
        prod = self.store.get("product", price["product"])
        return prod["name"] if prod else price["product"]

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


def _products(_engine: EngineCore, rows: list[Obj], p: Obj) -> list[Obj]:
    active = get_bool(p, "active")
    if active is not None:
        rows = [r for r in rows if r["active"] == active]
    ids = get_list(p, "ids")
    if ids:
        rows = [r for r in rows if r["id"] in ids]
    return rows


def _prices(_engine: EngineCore, rows: list[Obj], p: Obj) -> list[Obj]:
    active = get_bool(p, "active")
    if active is not None:
        rows = [r for r in rows if r["active"] == active]
    for field in ("currency", "product", "type"):
        value = get_str(p, field)
        if value is not None:
            rows = [r for r in rows if r[field] == (value.lower() if field == "currency" else value)]
    keys = get_list(p, "lookup_keys")
    if keys is not None:
        if len(keys) > MAX_LOOKUP_KEYS:
            raise invalid_param("lookup_keys", "You can pass at most 10 lookup_keys.")
        rows = [r for r in rows if r.get("lookup_key") in keys]
    rec = get_dict(p, "recurring")
    if rec:
        for field in ("interval", "usage_type", "meter"):
            value = rec.get(field)
            if value:
                rows = [r for r in rows if (r.get("recurring") or {}).get(field) == value]
    return rows


RESOURCES = (
    Resource("product", "/v1/products", hide_deleted=True, filters=(_products,)),
    Resource("price", "/v1/prices", filters=(_prices,)),
)
