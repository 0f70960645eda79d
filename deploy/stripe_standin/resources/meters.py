"""Billing meters and meter events (usage-based prices)."""

from __future__ import annotations

from decimal import Decimal

from deploy.stripe_standin.constants import METER_IDENTIFIER_TTL, METER_MAX_AGE, METER_MAX_FUTURE
from deploy.stripe_standin.errors import StripeError, invalid_param, missing_param
from deploy.stripe_standin.resources.core import EngineCore, Resource, plain_list
from deploy.stripe_standin.store import random_token
from deploy.stripe_standin.util import Obj, get_dict, get_int, get_str, public


class Meters(EngineCore):
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

    def meter_event_summaries(self, mtr_id: str, p: Obj) -> Obj:
        meter = self.get("billing.meter", mtr_id)
        cus_id = get_str(p, "customer", required=True)
        start = get_int(p, "start_time", required=True)
        end = get_int(p, "end_time", required=True)
        assert start is not None
        assert end is not None
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
        return plain_list([summary], f"/v1/billing/meters/{mtr_id}/event_summaries")

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
        return plain_list(data, "/_standin/meter_events")


def _without_id(event: Obj) -> Obj:
    return {k: v for k, v in event.items() if k != "id"}


RESOURCES = (
    Resource("billing.meter", "/v1/billing/meters", filters=("status",)),
    Resource("billing.meter_event"),
)
