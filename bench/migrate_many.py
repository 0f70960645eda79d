"""Migrating many tenants: one pending AddField over N schemas, and the nothing-pending case.

N tenant schemas (BENCH_TENANTS, default 1000) are cloned from one migrated template schema by
replaying its `pg_dump --schema-only` DDL plus the rows of django_migrations, django_content_type
and auth_permission (the data a freshly migrated tenant schema holds), with the schema name
substituted; each gets a Tenant row. Then:

- stock_noop_s: django-tenants' stock executor (`migrate_schemas --tenant --executor standard`)
  with nothing pending, on the first BENCH_STOCK_TENANTS (default 50) tenants only;
- noop_s: our orchestrator with nothing pending (in-process planning + the one-query check), and
  noop_command_s, the whole `manage.py migrate_schemas --tenant` wall clock incl. Django start-up;
- migrate_s: `manage.py migrate_schemas --tenant` wall clock with one pending AddField
  (bench.settings_pending), default parallelism (cpu count);
- noop_after_s: nothing pending again, after that migration.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._schemas import dump_template, run_scripts

NAME = "migrate_many"
ORDER = 90  # last: its 1000 schemas would slow down the others (bigger catalogs)
ROOT = Path(__file__).resolve().parent.parent


def _manage(env: dict[str, str], settings_module: str, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    child_env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": settings_module}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=child_env, capture_output=True, text=True, check=False
    )
    return time.perf_counter() - started, proc


def _tail(proc: subprocess.CompletedProcess) -> str:
    return (proc.stdout + proc.stderr).strip().splitlines()[-1] if (proc.stdout + proc.stderr).strip() else ""


def run(env: dict[str, str]) -> dict[str, Any]:
    from tenants.conn import connection
    from tenants.migration import tenants_migrate
    from tenants.models import Tenant
    from tenants.naming import generate_schema_name
    from tenants.services import schema_create_migrated, schema_drop

    total = int(os.environ.get("BENCH_TENANTS", "1000"))
    stock_n = min(total, int(os.environ.get("BENCH_STOCK_TENANTS", "50")))
    database_url = env["DATABASE_URL"]
    result: dict[str, Any] = {"tenants": total, "parallel": os.cpu_count()}

    # Only this benchmark's tenants in the database.
    for tenant in Tenant.objects.exclude(schema_name="public"):
        schema_drop(schema_name=tenant.schema_name)
    from tenants.models import Domain, SpareSchema

    Domain.objects.all().delete()
    Tenant.objects.exclude(schema_name="public").delete()
    for spare in SpareSchema.objects.all():
        schema_drop(schema_name=spare.schema_name)
    SpareSchema.objects.all().delete()

    template = schema_create_migrated()
    script = dump_template(database_url, template)
    schema_drop(schema_name=template)

    def add_tenants(count: int, offset: int) -> float:
        names = [generate_schema_name() for _ in range(count)]
        started = time.perf_counter()
        run_scripts(database_url, [script.format(schema=name) for name in names])
        Tenant.objects.bulk_create(
            [
                Tenant(schema_name=name, slug=f"bench-{offset + i}", name=f"Bench {offset + i}")
                for i, name in enumerate(names)
            ]
        )
        return time.perf_counter() - started

    clone_s = add_tenants(stock_n, 0)

    elapsed, proc = _manage(
        env, env["DJANGO_SETTINGS_MODULE"], "migrate_schemas", "--tenant", "--executor", "standard", "-v", "0"
    )
    assert proc.returncode == 0, proc.stderr
    result["stock_tenants"] = stock_n
    result["stock_noop_s"] = round(elapsed, 2)
    report = tenants_migrate()
    result["noop_s_at_stock_tenants"] = round(report.seconds, 3)

    clone_s += add_tenants(total - stock_n, stock_n)
    result["clone_ms_per_schema"] = round(clone_s / total * 1000, 2)
    connection.set_schema_to_public()

    report = tenants_migrate()
    assert len(report.skipped) == total, f"expected every schema up to date, got {len(report.skipped)}"
    result["noop_s"] = round(report.seconds, 3)
    elapsed, proc = _manage(env, env["DJANGO_SETTINGS_MODULE"], "migrate_schemas", "--tenant", "-v", "0")
    assert proc.returncode == 0, proc.stderr
    result["noop_command_s"] = round(elapsed, 2)

    elapsed, proc = _manage(env, "bench.settings_pending", "migrate_schemas", "--tenant", "-v", "1")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result["migrate_s"] = round(elapsed, 2)
    result["migrate_summary"] = _tail(proc)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'projects_project' AND column_name = 'bench_score'"
        )
        result["schemas_with_new_column"] = cursor.fetchone()[0]

    elapsed, proc = _manage(env, "bench.settings_pending", "migrate_schemas", "--tenant", "-v", "1")
    assert proc.returncode == 0, proc.stderr
    result["noop_after_command_s"] = round(elapsed, 2)
    result["noop_after_summary"] = _tail(proc)
    result["goal_migrate_s"] = 15
    result["goal_noop_s"] = 1
    return result
