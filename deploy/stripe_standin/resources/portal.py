"""Customer Portal sessions and the plan changes made on the hosted portal page."""

from __future__ import annotations

from deploy.stripe_standin.errors import StripeError
from deploy.stripe_standin.resources.core import Resource
from deploy.stripe_standin.resources.subscriptions import Subscriptions
from deploy.stripe_standin.util import Obj, get_dict, get_str


class Portal(Subscriptions):
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


RESOURCES = (Resource("billing_portal.session"),)
