"""What this app subscribes to: billing's plan_changed signal, and the /metrics collector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tenants.routing import tenant_write_context


def on_plan_changed(sender: Any = None, *, tenant: Any, old_plan: str, new_plan: str, **_: Any) -> None:
    """Billing changed a tenant's plan inside its transaction: write the event in that tenant's schema,
    in that same transaction (billing works in public; the connection is switched for the insert only)."""
    from tenant_apps.outgoing.services import outbox_record

    with tenant_write_context(tenant):  # its shard's schema (tenants/routing.py)
        outbox_record(
            event_type="billing.plan_changed",
            data={"plan": new_plan, "previous_plan": old_plan, "organization": tenant.slug},
        )


def collect_metrics() -> Iterator[Any]:
    from django.conf import settings
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from tenants.base.observability import metric_values_or_last
    from tenants.base.redis import VALKEY_ERRORS, redis_client

    deliveries = CounterMetricFamily(
        "tenantry_outgoing_webhook_deliveries",
        "Outgoing webhook attempts by outcome (succeeded, failed_attempt, failed = gave up)",
        labels=["outcome"],
    )
    for label, value in sorted(metric_values_or_last("outgoing_webhook_deliveries")[0].items()):
        deliveries.add_metric([label], value)
    yield deliveries
    disabled = CounterMetricFamily(
        "tenantry_outgoing_webhook_endpoints_disabled", "Endpoints disabled after failing for the whole window"
    )
    disabled.add_metric([], sum(metric_values_or_last("outgoing_webhook_endpoints_disabled")[0].values()))
    yield disabled
    depth = GaugeMetricFamily(
        "tenantry_outgoing_webhook_queue_depth",
        "Deliveries pending or in flight in all tenants (as of the last sweep)",
    )
    try:
        raw = redis_client().get(
            f"{settings.CACHES['default'].get('KEY_PREFIX', 'tenantry')}:metrics:outgoing_webhook_queue_depth"
        )
    except VALKEY_ERRORS:  # Valkey down: the depth is unknown (NaN), the rest of /metrics still answers
        raw = "nan"
    depth.add_metric([], float(raw) if raw is not None else 0.0)
    yield depth
