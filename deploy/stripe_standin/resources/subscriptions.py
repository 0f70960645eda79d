"""Subscriptions and subscription items: creation, changes with prorations, cancellation, and the
invoice preview of a change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from deploy.stripe_standin.constants import DAY
from deploy.stripe_standin.errors import StripeError, invalid_param, missing_param, no_such
from deploy.stripe_standin.resources.core import EngineCore, Resource, plain_list
from deploy.stripe_standin.resources.invoices import Invoices
from deploy.stripe_standin.store import random_token
from deploy.stripe_standin.util import (
    Obj,
    add_interval,
    apply_metadata,
    decimal_str,
    fmt_date,
    get_bool,
    get_dict,
    get_int,
    get_list,
    get_str,
    interval_label,
    line_amount,
    metered,
    money,
)

ACTIVE_STATUSES = ("active", "trialing", "past_due", "unpaid", "incomplete", "paused")
SUB_STATUSES = (*ACTIVE_STATUSES, "canceled", "incomplete_expired")
PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")
TIMES = "\u00d7"  # MULTIPLICATION SIGN, as in Stripe's "2 <times> Pro (at $20.00 / month)"


class Subscriptions(Invoices):
    def render(self, kind: str, obj: Obj) -> Obj:
        out = super().render(kind, obj)
        if kind == "subscription":
            items = self._sub_items(obj["id"])
            data = [self.render("subscription_item", i) for i in items]
            out["items"] = plain_list(data, f"/v1/subscription_items?subscription={obj['id']}", total_count=len(items))
        elif kind == "subscription_item":
            price = self.store.get("price", obj["price"])
            if price is not None:
                out["price"] = self.render("price", price)
                out["plan"] = self._plan(price)
        return out

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
            if spec["price"] is not None and metered(spec["price"]) and spec["quantity"] is not None:
                raise invalid_param(
                    f"{where}[quantity]", "Quantity should not be specified where usage_type is `metered`."
                )
            specs.append(spec)
        return specs

    def _sub_items(self, sub_id: str) -> list[Obj]:
        return [i for i in self.store.all("subscription_item") if i["subscription"] == sub_id]

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
        self._run_invoice(invoice, "Subscription creation", pay=sub["status"] != "incomplete")
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
            "quantity": None if metered(price) else (1 if qty is None else qty),
            "subscription": sub["id"],
            "tax_rates": [],
        }
        self.store.put("subscription_item", item)
        return item

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
        after = self.emit_change("customer.subscription.updated", "subscription", sub, before)
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

    def _bill_cycle(self, sub: Obj, before: Obj, invoice: Obj, *, succeed: bool) -> None:
        """Run a new period's invoice: the subscription ends up past_due if its payment failed, else active."""
        attempted = self._run_invoice(invoice, "Subscription update", succeed=succeed)
        sub["status"] = "past_due" if attempted and not succeed else "active"
        self.emit_change("customer.subscription.updated", "subscription", sub, before, always=True)

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
                if metered(new_price):
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
                qty = None if metered(spec["price"]) else (1 if spec["quantity"] is None else spec["quantity"])
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
                    and not metered(old_price)
                    and (interval_change or changed)
                ):
                    lines.append(self._proration_line(sub, item, old_price, c["old_qty"] or 0, -1, now, start, end))
                if not interval_change and not metered(new_price) and changed:
                    lines.append(self._proration_line(sub, item, new_price, c["qty"] or 0, 1, now, start, end))
            for item in removals:
                price = self.store.get("price", item["price"])
                if price is not None and not metered(price):
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
            if price is None or metered(price):
                continue
            qty = item["quantity"] or 0
            product = self._product_name(price)
            if trial:
                amount, desc = 0, f"Trial period for {product}"
            else:
                amount = line_amount(price["unit_amount_decimal"], qty)
                desc = (
                    f"{qty} {TIMES} {product} (at {money(price['unit_amount'], price['currency'])} / "
                    f"{interval_label(price)})"
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
            if price is None or not metered(price):
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
                    "description": f"{decimal_str(usage)} {TIMES} {self._product_name(price)} (usage)",
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
                if price is not None and not metered(price):
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
        self.emit_change("customer.subscription.updated", "subscription", sub, before)
        if invoice is not None:
            self._run_invoice(invoice, "Subscription update")
        if si_id:
            return self.render("subscription_item", self.get("subscription_item", si_id))
        return {}

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
        self._bill_cycle(sub, before, self._trial_conversion_invoice(sub), succeed=True)

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


def _by_status(_engine: EngineCore, rows: list[Obj], p: Obj) -> list[Obj]:
    status = get_str(p, "status")
    if status is None:
        return [r for r in rows if r["status"] not in ("canceled", "incomplete_expired")]
    if status == "ended":
        return [r for r in rows if r["status"] in ("canceled", "incomplete_expired")]
    if status == "all":
        return rows
    if status not in SUB_STATUSES:
        raise invalid_param("status", f"Invalid status: must be one of {', '.join((*SUB_STATUSES, 'ended', 'all'))}")
    return [r for r in rows if r["status"] == status]


def _by_price(engine: EngineCore, rows: list[Obj], p: Obj) -> list[Obj]:
    price_id = get_str(p, "price")
    if not price_id:
        return rows
    subs = {i["subscription"] for i in engine.store.all("subscription_item") if i["price"] == price_id}
    return [r for r in rows if r["id"] in subs]


def _of_subscription(_engine: EngineCore, rows: list[Obj], p: Obj) -> list[Obj]:
    sub_id = get_str(p, "subscription", required=True)
    return [r for r in rows if r["subscription"] == sub_id]


RESOURCES = (
    Resource("subscription", "/v1/subscriptions", filters=("customer", _by_status, _by_price)),
    Resource("subscription_item", "/v1/subscription_items", label="subscription item", filters=(_of_subscription,)),
)
