"""Time control (stand-in only, ``POST /_standin/advance``): renewals, failed and SCA payments, trial ends."""

from __future__ import annotations

from deploy.stripe_standin.errors import invalid_param
from deploy.stripe_standin.resources.subscriptions import Subscriptions
from deploy.stripe_standin.util import Obj, add_interval, invoice_subscription


class TimeControl(Subscriptions):
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
        rows = [i for i in self.store.all("invoice") if invoice_subscription(i) == sub["id"] and i["status"] == "open"]
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
        self._bill_cycle(sub, before, self._cycle_invoice(sub), succeed=succeed)

    def _fail_payment(self, sub: Obj) -> None:
        self._require_live(sub)
        open_invoice = self._latest_open_invoice(sub)
        if open_invoice is not None:
            before = self.render("subscription", sub)
            self._attempt_payment(open_invoice, succeed=False, description="Payment for Invoice")
            if sub["status"] == "active":
                sub["status"] = "past_due"
            self.emit_change("customer.subscription.updated", "subscription", sub, before)
            return
        if sub["status"] == "trialing":
            before = self.render("subscription", sub)
            self._bill_cycle(sub, before, self._trial_conversion_invoice(sub), succeed=False)
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
            self._run_invoice(invoice, "", pay=False)  # the customer must authenticate this payment
        if invoice["status"] == "open":
            invoice["attempt_count"] += 1
            invoice["attempted"] = True
            invoice["next_payment_attempt"] = None  # no automatic retry: only the customer can authenticate
            self.emit("invoice.payment_action_required", "invoice", invoice)
            if sub["status"] in ("active", "trialing"):
                sub["status"] = "past_due"
        elif sub["status"] == "trialing":
            sub["status"] = "active"  # nothing was due
        self.emit_change("customer.subscription.updated", "subscription", sub, before)
