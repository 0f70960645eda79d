"""The webhook inbox's family on /metrics (registered in WebhooksConfig.ready)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count
from django_tenants.utils import schema_context

from webhooks.models import WebhookEvent


def collect_metrics() -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        rows = WebhookEvent.objects.values("status").annotate(n=Count("pk")).order_by()
        counts = {str(r["status"]): int(r["n"]) for r in rows}
    family = GaugeMetricFamily("tenantry_webhook_inbox_events", "Webhook inbox events by status", labels=["status"])
    for label, value in sorted(counts.items()):
        family.add_metric([label], value)
    yield family
