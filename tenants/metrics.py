"""The tenancy core's family on /metrics (registered in TenantsConfig.ready)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count
from django_tenants.utils import schema_context

from tenants.models import Tenant


def collect_metrics() -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    from tenants.base.observability import counter_family
    from tenants.conn_recycling import RECYCLED_METRIC

    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        rows = Tenant.objects.values("status").annotate(n=Count("pk")).order_by()
        counts = {str(r["status"]): int(r["n"]) for r in rows}
    family = GaugeMetricFamily("tenantry_tenants", "Tenants by lifecycle status", labels=["status"])
    for label, value in sorted(counts.items()):
        family.add_metric([label], value)
    yield family

    yield counter_family(
        name="tenantry_db_connections_recycled",
        documentation=(
            "Database connections closed after using more than TENANT_CONN_MAX_SCHEMAS tenant schemas, by alias"
        ),
        metric=RECYCLED_METRIC,
        label="alias",
    )
