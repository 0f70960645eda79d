"""The tenancy core's family on /metrics (registered in TenantsConfig.ready)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count
from django_tenants.utils import schema_context

from tenants.models import Tenant


def collect_metrics() -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from tenants.base.observability import metric_values_or_last
    from tenants.conn_recycling import RECYCLED_METRIC

    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        rows = Tenant.objects.values("status").annotate(n=Count("pk")).order_by()
        counts = {str(r["status"]): int(r["n"]) for r in rows}
    family = GaugeMetricFamily("tenantry_tenants", "Tenants by lifecycle status", labels=["status"])
    for label, value in sorted(counts.items()):
        family.add_metric([label], value)
    yield family

    recycled_values, _ = metric_values_or_last(RECYCLED_METRIC)
    recycled = CounterMetricFamily(
        "tenantry_db_connections_recycled",
        "Database connections closed after using more than TENANT_CONN_MAX_SCHEMAS tenant schemas, by alias",
        labels=["alias"],
    )
    for label, value in sorted(recycled_values.items()):
        recycled.add_metric([label], value)
    yield recycled
