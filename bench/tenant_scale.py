"""Tenant count scaling: API GET p50 with 10 tenants and with 2,000 tenants, in the same run.

Every tenant is a real, fully migrated tenant: its schema is cloned from one migrated template
schema by replaying the template's `pg_dump` (schema-only DDL, plus the rows of django_migrations,
django_content_type, auth_permission and the template's 30 projects) with the schema name
substituted, as `migrate_many` does; each tenant gets its Tenant and Domain rows, its own member
user (role `member`, public schema), a view grant on 20 of its 30 projects (guardian direct-FK
table) and an API token, all bulk-inserted. Tenants left by earlier benchmarks are dropped first.

Request: `GET /api/v1/projects/` (page of 20, permission-filtered) with that tenant's bearer token
and `Host: <slug>.localhost`, served by gunicorn with one sync worker (one process, one database
connection, `CONN_MAX_AGE=300` as in production, no max-requests recycling) running the project's
WSGI application (bench.api_list.wsgi_application: API rate limit raised, nothing else changed).
The client (`python -m bench.api_list client`) is a separate process, one request at a time.

So that both sizes can be measured side by side, in interleaved rounds (this machine is shared and
noisy), the 10-tenant state is kept as a database of its own: once the first 10 tenants exist, the
database is copied (`CREATE DATABASE … TEMPLATE`, same PostgreSQL server), then tenants are added
to the original up to 2,000. Three servers:

- `s10`: on the 10-tenant copy;
- `l2000`: on the 2,000-tenant database; before measuring, it serves one request to every one of
  the 2,000 tenants (touch pass), so its process and its connection have seen them all;
- `f2000`: on the 2,000-tenant database, serving only the measured 10 (a fresh worker).

All three then get BENCH_SCALE_ROUNDS rounds of BENCH_SCALE_SECONDS each (the order rotating every
round), each round cycling over the same 10 tenants (the first 10, present in both databases).
p50_ratio = p50(l2000) / p50(s10). f2000 splits the difference: f2000 / s10 is what grows with
the database, l2000 / f2000 what grows with what one worker has touched. worker_rss_mb is l2000's
worker peak RSS (VmHWM) after the touch pass and the rounds; pg_backend_rss_anon_mb the private
memory of its PostgreSQL backend (catalog caches), read from /proc when PostgreSQL runs locally.

Against servers given by DATABASE_URL, the role needs CREATEDB, and nothing else may be connected to
the benchmark database while it is copied.
"""

from __future__ import annotations

import os
import statistics
import time
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

from bench._schemas import MIGRATION_TABLES, dump_template, run_scripts
from bench._util import percentile
from bench.api_list import gunicorn, proc_status_kb, run_client

NAME = "tenant_scale"
ORDER = 95  # last: it drops the other benchmarks' tenants and leaves 2,000 schemas behind
PATH = "/api/v1/projects/"
DATA_TABLES = (*MIGRATION_TABLES, "projects_project")
PROJECTS_PER_TENANT = 30
VISIBLE_PER_TENANT = 20


def _per_tenant_sql(schema: str, user_id: int, prefix: str, token_hash: str) -> str:
    """The tenant's own rows: its member's API token and view grants on its first 20 projects.
    Every value is generated here (ids, hex digests, generated schema names): no user input."""
    return f"""
INSERT INTO "{schema}".tokens_apitoken (user_id, name, prefix, secret_hash, created_at)
VALUES ({int(user_id)}, 'bench', '{prefix}', '{token_hash}', now());
INSERT INTO "{schema}".projects_projectuserobjectpermission (user_id, permission_id, content_object_id)
SELECT {int(user_id)}, perm.id, project.id
FROM "{schema}".auth_permission perm
JOIN "{schema}".django_content_type ct ON ct.id = perm.content_type_id
CROSS JOIN (SELECT id FROM "{schema}".projects_project ORDER BY id LIMIT {VISIBLE_PER_TENANT}) project
WHERE ct.app_label = 'projects' AND ct.model = 'project' AND perm.codename = 'view_project';
"""


def _drop_all_tenants(database_url: str) -> int:
    """Drop every tenant and spare schema (and their rows), as migrate_many does before it starts."""
    from tenants.models import Domain, SpareSchema, Tenant
    from tenants.naming import SCHEMA_RE

    names = [
        name
        for name in [
            *Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True),
            *SpareSchema.objects.values_list("schema_name", flat=True),
        ]
        if SCHEMA_RE.match(name)
    ]
    run_scripts(database_url, [f'DROP SCHEMA IF EXISTS "{name}" CASCADE' for name in names])
    Domain.objects.all().delete()
    Tenant.objects.exclude(schema_name="public").delete()
    SpareSchema.objects.all().delete()
    return len(names)


def _add_tenants(database_url: str, script: str, start: int, count: int, run_id: int) -> list[list[str]]:
    """Create tenants start..start+count-1; returns [host, token, PATH] for each."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from shared_apps.accounts.models import Membership, Role, User
    from tenant_apps.tokens.crypto import API_TOKEN_SCHEME, secret_hash, secret_new
    from tenants.models import Domain, Tenant, TenantStatus
    from tenants.naming import generate_schema_name

    now = timezone.now()
    numbers = range(start, start + count)
    unusable = make_password(None)
    users = User.objects.bulk_create([User(email=f"member{n}@scale{run_id}.test", password=unusable) for n in numbers])
    tenants = Tenant.objects.bulk_create(
        [
            Tenant(
                schema_name=generate_schema_name(),
                slug=f"scale-{n:04d}",
                name=f"Scale {n}",
                status=TenantStatus.TRIALING,
                status_changed_at=now,
            )
            for n in numbers
        ]
    )
    scripts: list[str] = []
    targets: list[list[str]] = []
    for tenant, user in zip(tenants, users, strict=True):
        prefix, raw = secret_new(scheme=API_TOKEN_SCHEME)
        scripts.append(
            script.format(schema=tenant.schema_name)
            + _per_tenant_sql(tenant.schema_name, user.pk, prefix, secret_hash(raw))
        )
        targets.append([f"{tenant.slug}.{settings.TENANT_BASE_DOMAIN}", raw, PATH])
    run_scripts(database_url, scripts)
    Domain.objects.bulk_create(
        [
            Domain(domain=host, tenant=tenant, is_primary=True)
            for (host, _, _), tenant in zip(targets, tenants, strict=True)
        ]
    )
    Membership.objects.bulk_create(
        [Membership(user=user, tenant=tenant, role=Role.MEMBER) for tenant, user in zip(tenants, users, strict=True)]
    )
    return targets


def _backend_rss_anon_mb(application_name: str) -> float | None:
    """Private memory (RssAnon) of the PostgreSQL backend serving a connection, found by its
    application_name (set through libpq's PGAPPNAME); None when /proc of PostgreSQL is not readable."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name])
        pids = [row[0] for row in cursor.fetchall()]
    try:
        return round(sum(proc_status_kb(pid, "RssAnon") for pid in pids) / 1024, 1) if pids else None
    except (OSError, KeyError):
        return None


def _interleaved(ports: dict[str, int], targets: list[list[str]], rounds: int, seconds: float) -> dict[str, Any]:
    """Rounds over the same targets on every server; the server that goes first rotates."""
    latencies: dict[str, list[float]] = {name: [] for name in ports}
    round_p50: dict[str, list[float]] = {name: [] for name in ports}
    errors = 0
    names = list(ports)
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            measured = run_client(ports[name], targets, seconds)
            latencies[name].extend(measured["latencies_ms"])
            round_p50[name].append(round(statistics.median(measured["latencies_ms"]), 2))
            errors += sum(n for status, n in measured["statuses"].items() if status != "200")
    return {"latencies": latencies, "round_p50": round_p50, "errors": errors}


def _database_url(database_url: str, name: str) -> str:
    return urlsplit(database_url)._replace(path=f"/{name}").geturl()


def _copy_database(database_url: str, name: str) -> str:
    """A copy of the benchmark database (no other session may be connected to it meanwhile)."""
    import psycopg
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    source = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(_database_url(database_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(source)))
    return _database_url(database_url, name)


def _drop_database(database_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(_database_url(database_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _pass(port: int, targets: list[list[str]]) -> dict[str, Any]:
    measured = run_client(port, targets)
    lat = measured["latencies_ms"]
    assert measured["statuses"] == {"200": len(targets)}, measured["statuses"]
    return {
        "p50": round(percentile(lat, 50), 2),
        "p99": round(percentile(lat, 99), 2),
        "seconds": round(measured["seconds"], 1),
    }


def run(env: dict[str, str]) -> dict[str, Any]:
    from tenants.conn import connection
    from tenants.resolution import resolution_cache_invalidate
    from tenants.services import schema_create_migrated, schema_drop

    small = int(os.environ.get("BENCH_SCALE_SMALL", "10"))
    large = int(os.environ.get("BENCH_SCALE_TENANTS", "2000"))
    rounds = int(os.environ.get("BENCH_SCALE_ROUNDS", "8"))
    seconds = float(os.environ.get("BENCH_SCALE_SECONDS", "2"))
    database_url = env["DATABASE_URL"]
    small_db = f"{urlsplit(database_url).path.lstrip('/')}_scale{small}"
    run_id = int(time.time())
    result: dict[str, Any] = {"tenants_small": small, "tenants_large": large, "path": PATH}

    started = time.perf_counter()
    result["dropped_schemas_before"] = _drop_all_tenants(database_url)
    result["drop_s"] = round(time.perf_counter() - started, 1)

    template = schema_create_migrated()
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{template}".projects_project (name, description, created_at, updated_at) '
            "SELECT 'Project ' || g, 'Bench project', now() - g * interval '1 hour', now() "
            f"FROM generate_series(1, {PROJECTS_PER_TENANT}) g"
        )
    script = dump_template(database_url, template, DATA_TABLES)
    schema_drop(schema_name=template)
    connection.set_schema_to_public()

    targets = _add_tenants(database_url, script, 0, small, run_id)
    subset = targets[:small]
    small_url = _copy_database(database_url, small_db)
    clone_started = time.perf_counter()
    targets += _add_tenants(database_url, script, small, large - small, run_id)
    result["clone_ms_per_tenant"] = round((time.perf_counter() - clone_started) / (large - small) * 1000, 1)
    resolution_cache_invalidate()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class")
        result["pg_class_rows_large"] = cursor.fetchone()[0]

    try:
        with ExitStack() as stack:
            urls = {"s10": small_url, "l2000": database_url, "f2000": database_url}
            servers = {
                name: stack.enter_context(
                    gunicorn(
                        {**env, "DATABASE_URL": url},
                        {"DB_CONN_MAX_AGE": "300", "PGAPPNAME": f"bench-{name}"},
                    )
                )
                for name, url in urls.items()
            }
            ports = {name: port for name, (port, _) in servers.items()}
            pids = {name: pid for name, (_, pid) in servers.items()}
            for port in ports.values():
                warm = run_client(port, subset, 2.0)
                assert set(warm["statuses"]) == {"200"}, warm["statuses"]
            result["touch_pass"] = _pass(ports["l2000"], targets)
            for port in ports.values():
                run_client(port, subset, 1.0)  # warm again on the measured subset
            measured = _interleaved(ports, subset, rounds, seconds)
            rss = {name: round(proc_status_kb(pid, "VmHWM") / 1024, 1) for name, pid in pids.items()}
            backend = {name: _backend_rss_anon_mb(f"bench-{name}") for name in ports}
    finally:
        _drop_database(database_url, small_db)

    p50 = {name: statistics.median(lat) for name, lat in measured["latencies"].items()}
    result.update(
        {
            "p50_ratio": round(p50["l2000"] / p50["s10"], 3),
            "p50_ms_10": round(p50["s10"], 2),
            "p50_ms_2000": round(p50["l2000"], 2),
            "p50_ms_2000_fresh_worker": round(p50["f2000"], 2),
            "p50_ratio_database_only": round(p50["f2000"] / p50["s10"], 3),
            "p50_ratio_worker_only": round(p50["l2000"] / p50["f2000"], 3),
            "p99_ms_10": round(percentile(measured["latencies"]["s10"], 99), 2),
            "p99_ms_2000": round(percentile(measured["latencies"]["l2000"], 99), 2),
            "p50_ms_rounds": measured["round_p50"],
            "requests_per_server": {name: len(lat) for name, lat in measured["latencies"].items()},
            "errors": measured["errors"],
            "worker_rss_mb": rss["l2000"],
            "worker_rss_mb_10": rss["s10"],
            "worker_rss_mb_fresh_2000": rss["f2000"],
            "pg_backend_rss_anon_mb": backend["l2000"],
            "pg_backend_rss_anon_mb_10": backend["s10"],
            "pg_backend_rss_anon_mb_fresh_2000": backend["f2000"],
            "rounds": rounds,
            "seconds_per_round": seconds,
            "server": "gunicorn 1 sync worker per server, CONN_MAX_AGE=300, no max-requests; "
            "client: http.client in a separate process, one request at a time",
            "goal_p50_ratio": 1.2,
        }
    )
    return result
