"""Provisioning: our pool path vs stock django-tenants migrate-on-create, and the no-pool path.

- ours: `organization_provision` claiming a pre-migrated spare schema (organization, domain, owner,
  membership), BENCH_PROVISION_OURS times (default 20) after one uncounted warm-up.
- stock: what django-tenants does with `auto_create_schema = True`: `Tenant.save()` creates the
  schema and runs `migrate_schemas -s <schema>` for it, plus the Domain row (default 5 times).
- nopool: `organization_provision` with an empty pool (it builds a schema on the request path; 3 times).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench._util import ms, percentile

NAME = "provisioning"


def run(_env: dict[str, str]) -> dict[str, Any]:
    from django.conf import settings

    from shared_apps.accounts.services import organization_provision
    from tenants.models import Domain, SpareSchema, Tenant
    from tenants.naming import generate_schema_name
    from tenants.services import schema_pool_refill

    ours_n = int(os.environ.get("BENCH_PROVISION_OURS", "20"))
    stock_n = int(os.environ.get("BENCH_PROVISION_STOCK", "5"))
    nopool_n = int(os.environ.get("BENCH_PROVISION_NOPOOL", "3"))
    run_id = int(time.time())

    refill_started = time.perf_counter()
    schema_pool_refill(size=ours_n + 1)
    refill_s = time.perf_counter() - refill_started
    spares_built = ours_n + 1
    # One warm-up (first-use imports and connection set-up), not counted.
    organization_provision(slug=f"warm-{run_id}", name="Warm-up", owner_email=f"warm@pool{run_id}.test")

    ours = []
    for i in range(ours_n):
        started = time.perf_counter()
        organization_provision(slug=f"pool-{run_id}-{i}", name=f"Pool {i}", owner_email=f"owner{i}@pool{run_id}.test")
        ours.append(time.perf_counter() - started)

    stock = []
    for i in range(stock_n):
        started = time.perf_counter()
        tenant = Tenant(schema_name=generate_schema_name(), slug=f"stock-{run_id}-{i}", name=f"Stock {i}")
        tenant.auto_create_schema = True
        tenant.save(verbosity=0)
        Domain.objects.create(domain=f"{tenant.slug}.{settings.TENANT_BASE_DOMAIN}", tenant=tenant, is_primary=True)
        stock.append(time.perf_counter() - started)

    assert SpareSchema.objects.count() == 0
    nopool = []
    for i in range(nopool_n):
        started = time.perf_counter()
        organization_provision(
            slug=f"nopool-{run_id}-{i}", name=f"No pool {i}", owner_email=f"owner{i}@nopool{run_id}.test"
        )
        nopool.append(time.perf_counter() - started)

    return {
        "provision_n": ours_n,
        "provision_ms_p50": ms(percentile(ours, 50)),
        "provision_ms_p95": ms(percentile(ours, 95)),
        "stock_n": stock_n,
        "stock_ms_p50": ms(percentile(stock, 50)),
        "stock_ms_p95": ms(percentile(stock, 95)),
        "nopool_n": nopool_n,
        "nopool_ms_p50": ms(percentile(nopool, 50)),
        "nopool_ms_p95": ms(percentile(nopool, 95)),
        "pool_refill_ms_per_schema": ms(refill_s / max(1, spares_built)),
        "goal_provision_ms_p95": 25,
        "goal_nopool_ms_p50": 300,
    }
