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

These three servers run with TENANT_CONN_MAX_SCHEMAS=0 (no connection recycling of any kind), so that
this section measures what it always has: the worst case, one connection that has seen every tenant.

Two shards (results["two_shards"]; the runner starts a second PostgreSQL cluster for this benchmark,
NEEDS_SHARDS; BENCH_SCALE_TWO_SHARDS=0 skips it). A fresh database on the second cluster is
registered as the shard `shard2` and bootstrapped as production does (public tables migrated, the
copy of `accounts_user` kept by logical replication from the control database, D131). A template
schema is migrated *on the shard* (its foreign keys to public tables detached, as every schema on a
shard has), dumped, and replayed for BENCH_SCALE_TENANTS more organizations, their schemas on
`shard2`: Tenant rows with shard="shard2", Domain, member User, Membership in the control database,
token and grants in the tenant schema, exactly as above. The measurement waits until the shard's
copy of the users has caught up. So there are 2 x BENCH_SCALE_TENANTS organizations: the ones above
on the control database and as many on `shard2`. Four servers, each 1 sync worker, CONN_MAX_AGE=300:

- `s10`: the same 10-tenant single-cluster copy as above (the baseline, as before);
- `r2x`: TENANT_SHARDS pointing at `shard2`, connection recycling ON as in production
  (TENANT_CONN_MAX_SCHEMAS from the environment, default 300); touch pass over every organization
  of both clusters, control and shard alternating;
- `o2x`: the same with recycling OFF (TENANT_CONN_MAX_SCHEMAS=0), same touch pass: the contrast;
- `f2x`: like `r2x`, serving only the measured 10 (a fresh worker).

The measured 10 are the first 5 organizations of each cluster, alternating (control, shard, ...).
Rounds as above; p50_ratio = p50(r2x) / p50(s10), goal <= 1.2; p50_ms_by_cluster splits each server's
latencies into the control-database and the shard organizations. Memory: during each touch pass,
after every BENCH_SCALE_SAMPLE_EVERY requests (default 200), the private memory (RssAnon) of the
worker's PostgreSQL backends on each cluster (found by application_name) is read; reported are the
peak over those samples and the value after the rounds, per cluster, and the worker's peak RSS
(VmHWM). Afterwards the shard's replication is torn down, its database dropped and its organizations'
rows removed from the control database.

Against servers given by DATABASE_URL, the role needs CREATEDB, and nothing else may be connected to
the benchmark database while it is copied (the two-shard section needs SHARD_URLS as well).
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
NEEDS_SHARDS = True  # the two-shard section: a second cluster, its URL in SHARD_URLS
SHARD = "shard2"
PATH = "/api/v1/projects/"
DATA_TABLES = (*MIGRATION_TABLES, "projects_project")
PROJECTS_PER_TENANT = 30
VISIBLE_PER_TENANT = 20


def _per_tenant_sql(schema: str, user_id: int, prefix: str, token_hash: str) -> str:
    """The tenant's own rows: its member's API token and view grants on its first 20 projects.
    Every value is generated here (ids, hex digests, generated schema names, the scope names of
    tenant_apps/tokens/scopes.py): no user input."""
    from tenant_apps.tokens.scopes import scopes_default

    scopes = ", ".join(f"'{scope}'" for scope in scopes_default())
    return f"""
INSERT INTO "{schema}".tokens_apitoken (user_id, name, prefix, secret_hash, created_at, scopes)
VALUES ({int(user_id)}, 'bench', '{prefix}', '{token_hash}', now(), ARRAY[{scopes}]::varchar(16)[]);
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


def _add_tenants(
    database_url: str, script: str, start: int, count: int, run_id: int, shard: str = "default"
) -> list[list[str]]:
    """Create tenants start..start+count-1, their schemas on `shard` (whose database `database_url`
    is; every other row in the control database); returns [host, token, PATH] for each."""
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
                shard=shard,
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


def _backend_rss_anon_mb(application_name: str, shard: str = "default") -> float | None:
    """Private memory (RssAnon) of the PostgreSQL backends serving a server's connections on one
    cluster, found by their application_name (set through libpq's PGAPPNAME); None when there is none
    or /proc of PostgreSQL is not readable."""
    from tenants.shards import shard_raw_connection

    with shard_raw_connection(shard) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name])
        pids = [row[0] for row in rows.fetchall()]
    try:
        return round(sum(proc_status_kb(pid, "RssAnon") for pid in pids) / 1024, 1) if pids else None
    except (OSError, KeyError):
        return None


def _interleaved(
    ports: dict[str, int], targets: list[list[str]] | dict[str, list[list[str]]], rounds: int, seconds: float
) -> dict[str, Any]:
    """Rounds over the same targets on every server (or each server's own, same length); the server
    that goes first rotates."""
    per_server = targets if isinstance(targets, dict) else dict.fromkeys(ports, targets)
    targets = per_server[next(iter(ports))]
    latencies: dict[str, list[float]] = {name: [] for name in ports}
    # Latencies by position in `targets` (the client cycles over them in order; kept only for a run
    # in which every request answered 200, so that positions line up).
    by_target: dict[str, list[list[float]]] = {name: [[] for _ in targets] for name in ports}
    round_p50: dict[str, list[float]] = {name: [] for name in ports}
    errors = 0
    names = list(ports)
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            measured = run_client(ports[name], per_server[name], seconds)
            latencies[name].extend(measured["latencies_ms"])
            round_p50[name].append(round(statistics.median(measured["latencies_ms"]), 2))
            failed = sum(n for status, n in measured["statuses"].items() if status != "200")
            errors += failed
            if not failed:
                for j, latency in enumerate(measured["latencies_ms"]):
                    by_target[name][j % len(targets)].append(latency)
    return {"latencies": latencies, "by_target": by_target, "round_p50": round_p50, "errors": errors}


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
    two_shards = os.environ.get("BENCH_SCALE_TWO_SHARDS", "1") != "0" and bool(env.get("SHARD_URLS"))
    database_url = env["DATABASE_URL"]
    small_db = f"{urlsplit(database_url).path.lstrip('/')}_scale{small}"
    run_id = int(time.time())
    result: dict[str, Any] = {"tenants_small": small, "tenants_large": large, "path": PATH}

    # A shard an earlier benchmark of this run registered: its subscription holds a connection to the
    # control database (which must have none while it is copied below) and the replication slot name.
    _shard_release(SHARD)
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
    try:
        clone_started = time.perf_counter()
        targets += _add_tenants(database_url, script, small, large - small, run_id)
        result["clone_ms_per_tenant"] = round((time.perf_counter() - clone_started) / (large - small) * 1000, 1)
        resolution_cache_invalidate()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_class")
            result["pg_class_rows_large"] = cursor.fetchone()[0]
        result.update(_one_cluster(env, small_url, database_url, targets, subset, rounds, seconds))
        if two_shards:
            result["two_shards"] = _two_shards(env, small_url, targets, subset, run_id, rounds, seconds)
    finally:
        _drop_database(database_url, small_db)
    return result


def _one_cluster(
    env: dict[str, str],
    small_url: str,
    database_url: str,
    targets: list[list[str]],
    subset: list[list[str]],
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    with ExitStack() as stack:
        urls = {"s10": small_url, "l2000": database_url, "f2000": database_url}
        servers = {
            name: stack.enter_context(
                gunicorn(
                    {**env, "DATABASE_URL": url},
                    {"DB_CONN_MAX_AGE": "300", "PGAPPNAME": f"bench-{name}", "TENANT_CONN_MAX_SCHEMAS": "0"},
                )
            )
            for name, url in urls.items()
        }
        ports = {name: port for name, (port, _) in servers.items()}
        pids = {name: pid for name, (_, pid) in servers.items()}
        for port in ports.values():
            warm = run_client(port, subset, 2.0)
            assert set(warm["statuses"]) == {"200"}, warm["statuses"]
        touch_pass = _pass(ports["l2000"], targets)
        for port in ports.values():
            run_client(port, subset, 1.0)  # warm again on the measured subset
        measured = _interleaved(ports, subset, rounds, seconds)
        rss = {name: round(proc_status_kb(pid, "VmHWM") / 1024, 1) for name, pid in pids.items()}
        backend = {name: _backend_rss_anon_mb(f"bench-{name}") for name in ports}

    p50 = {name: statistics.median(lat) for name, lat in measured["latencies"].items()}
    return {
        "touch_pass": touch_pass,
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
        "server": "gunicorn 1 sync worker per server, CONN_MAX_AGE=300, no max-requests, "
        "TENANT_CONN_MAX_SCHEMAS=0 (no recycling); client: http.client in a separate process, one request at a time",
        "goal_p50_ratio": 1.2,
    }


# --- Two shards ------------------------------------------------------------------------------------


def _shard_release(alias: str) -> None:
    """Unregister a shard of this process, its replication first (the subscription holds a slot and a
    connection on the control database)."""
    from django.conf import settings

    from tenants.routing import shard_unregister
    from tenants.shards import shard_replication_teardown

    if alias not in getattr(settings, "TENANT_SHARDS", {}):
        return
    try:
        shard_replication_teardown(alias=alias)
    finally:
        shard_unregister(alias=alias)


def _shard_create(server_url: str, name: str) -> str:
    """A fresh database on the second cluster, registered as SHARD and bootstrapped; returns its URL."""
    import psycopg
    from psycopg import sql

    from tenants.routing import shard_register
    from tenants.shards import shard_bootstrap

    with psycopg.connect(_database_url(server_url, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    shard_url = _database_url(server_url, name)
    shard_register(alias=SHARD, url=shard_url)
    shard_bootstrap(alias=SHARD)  # public tables, and the copy of the users by logical replication
    return shard_url


def _shard_template_script(shard_url: str) -> str:
    """The template schema migrated on the shard, its references to public tables detached as on every
    schema of a shard (D131), with the 30 projects; dumped like the control database's."""
    from tenants.conn import connection
    from tenants.routing import shard_activate
    from tenants.services import schema_create_migrated, schema_drop
    from tenants.shards import schema_detach_global_references

    with shard_activate(SHARD):
        template = schema_create_migrated()
        with connection.cursor() as cursor:
            cursor.execute(
                f'INSERT INTO "{template}".projects_project (name, description, created_at, updated_at) '
                "SELECT 'Project ' || g, 'Bench project', now() - g * interval '1 hour', now() "
                f"FROM generate_series(1, {PROJECTS_PER_TENANT}) g"
            )
        schema_detach_global_references(schema_name=template)
    try:
        return dump_template(shard_url, template, DATA_TABLES)
    finally:
        with shard_activate(SHARD):
            schema_drop(schema_name=template)
            connection.set_schema_to_public()


def _scalar(conn: Any, query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def _users_replicated(timeout: float = 600) -> float:
    """Wait until the shard's copy of the users holds every user of the control database; seconds."""
    from tenants.shards import shard_raw_connection

    started = time.perf_counter()
    with shard_raw_connection("default") as control:
        expected = _scalar(control, "SELECT count(*) FROM public.accounts_user")
    with shard_raw_connection(SHARD) as shard:
        while _scalar(shard, "SELECT count(*) FROM public.accounts_user") < expected:
            if time.perf_counter() - started > timeout:
                raise TimeoutError("the shard's copy of the users did not catch up")
            time.sleep(0.5)
    return round(time.perf_counter() - started, 1)


def _memory(application_name: str) -> dict[str, float | None]:
    return {cluster: _backend_rss_anon_mb(application_name, cluster) for cluster in ("default", SHARD)}


def _sampled_pass(port: int, targets: list[list[str]], every: int, application_name: str) -> dict[str, Any]:
    """One request to every target, in chunks of `every`; after each chunk, the server's backend memory
    on both clusters. Returns latency figures, the samples and their peak per cluster."""
    latencies: list[float] = []
    samples: list[dict[str, Any]] = []
    client_seconds = 0.0
    for start in range(0, len(targets), every):
        chunk = targets[start : start + every]
        measured = run_client(port, chunk)
        assert measured["statuses"] == {"200": len(chunk)}, measured["statuses"]
        latencies.extend(measured["latencies_ms"])
        client_seconds += measured["seconds"]
        samples.append({"requests": start + len(chunk), **_memory(application_name)})
    peak = {
        cluster: max((s[cluster] for s in samples if s[cluster] is not None), default=None)
        for cluster in ("default", SHARD)
    }
    return {
        "p50": round(percentile(latencies, 50), 2),
        "p99": round(percentile(latencies, 99), 2),
        "seconds": round(client_seconds, 1),
        "backend_rss_anon_mb_peak": peak,
        "backend_rss_anon_mb_samples": samples,
    }


def _two_shards(
    env: dict[str, str],
    small_url: str,
    control_targets: list[list[str]],
    baseline: list[list[str]],
    run_id: int,
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    from django.conf import settings

    from shared_apps.accounts.models import Membership
    from tenants.models import Domain, Tenant
    from tenants.resolution import resolution_cache_invalidate
    from tenants.shards import shard_raw_connection

    large = len(control_targets)
    every = int(os.environ.get("BENCH_SCALE_SAMPLE_EVERY", "200"))
    server = env["SHARD_URLS"].split(",")[0].partition("=")[2]
    shard_db = f"bench_scale_shard_{run_id}"
    shard_url = _shard_create(server, shard_db)
    result: dict[str, Any] = {"tenants_per_cluster": large, "conn_max_schemas": settings.TENANT_CONN_MAX_SCHEMAS}
    try:
        script = _shard_template_script(shard_url)
        clone_started = time.perf_counter()
        shard_targets = _add_tenants(shard_url, script, large, large, run_id, shard=SHARD)
        result["clone_ms_per_tenant"] = round((time.perf_counter() - clone_started) / large * 1000, 1)
        result["replication_wait_s"] = _users_replicated()
        resolution_cache_invalidate()
        with shard_raw_connection(SHARD) as conn:
            result["pg_class_rows_shard"] = _scalar(conn, "SELECT count(*) FROM pg_class")

        # Measured: the first 5 of each cluster, alternating (even positions: control, odd: shard).
        half = len(baseline) // 2
        measured_targets = [t for pair in zip(control_targets[:half], shard_targets[:half], strict=True) for t in pair]
        everyone = [t for pair in zip(control_targets, shard_targets, strict=True) for t in pair]
        sharded = {**env, "TENANT_SHARDS": f"{SHARD}={shard_url}"}
        configs = {
            "s10": ({**env, "DATABASE_URL": small_url}, {"TENANT_CONN_MAX_SCHEMAS": "0"}),
            "r2x": (sharded, {}),  # recycling as configured (production default)
            "o2x": (sharded, {"TENANT_CONN_MAX_SCHEMAS": "0"}),
            "f2x": (sharded, {}),
        }
        per_server = {name: baseline if name == "s10" else measured_targets for name in configs}
        with ExitStack() as stack:
            servers = {
                name: stack.enter_context(
                    gunicorn(server_env, {"DB_CONN_MAX_AGE": "300", "PGAPPNAME": f"bench-{name}", **extra})
                )
                for name, (server_env, extra) in configs.items()
            }
            ports = {name: port for name, (port, _) in servers.items()}
            pids = {name: pid for name, (_, pid) in servers.items()}
            for name, port in ports.items():
                warm = run_client(port, per_server[name], 2.0)
                assert set(warm["statuses"]) == {"200"}, warm["statuses"]
            result["touch_pass"] = {
                name: _sampled_pass(ports[name], everyone, every, f"bench-{name}") for name in ("r2x", "o2x")
            }
            for name, port in ports.items():
                run_client(port, per_server[name], 1.0)  # warm again on the measured subset
            measured = _interleaved(ports, per_server, rounds, seconds)
            rss = {name: round(proc_status_kb(pid, "VmHWM") / 1024, 1) for name, pid in pids.items()}
            backend = {name: _memory(f"bench-{name}") for name in ports}
    finally:
        # Raw deletes: the membership receivers would try to clear grants in schemas about to go.
        Membership.objects.filter(tenant__shard=SHARD)._raw_delete(Membership.objects.db)
        Domain.objects.filter(tenant__shard=SHARD)._raw_delete(Domain.objects.db)
        Tenant.objects.filter(shard=SHARD).delete()
        _shard_release(SHARD)
        _drop_database(server, shard_db)

    p50 = {name: statistics.median(lat) for name, lat in measured["latencies"].items()}
    by_cluster: dict[str, dict[str, float]] = {}
    for name, positions in measured["by_target"].items():
        if name == "s10":
            by_cluster[name] = {"default": round(p50[name], 2)}
            continue
        split = {"default": positions[0::2], SHARD: positions[1::2]}
        by_cluster[name] = {
            cluster: round(statistics.median([x for p in lists for x in p]), 2)
            for cluster, lists in split.items()
            if any(lists)
        }
    result.update(
        {
            "p50_ratio": round(p50["r2x"] / p50["s10"], 3),
            "p50_ms_10": round(p50["s10"], 2),
            "p50_ms_2x": round(p50["r2x"], 2),
            "p50_ms_2x_no_recycling": round(p50["o2x"], 2),
            "p50_ms_2x_fresh_worker": round(p50["f2x"], 2),
            "p50_ratio_no_recycling": round(p50["o2x"] / p50["s10"], 3),
            "p50_ratio_fresh_worker": round(p50["f2x"] / p50["s10"], 3),
            "p50_ms_by_cluster": by_cluster,
            "p99_ms_10": round(percentile(measured["latencies"]["s10"], 99), 2),
            "p99_ms_2x": round(percentile(measured["latencies"]["r2x"], 99), 2),
            "p50_ms_rounds": measured["round_p50"],
            "requests_per_server": {name: len(lat) for name, lat in measured["latencies"].items()},
            "errors": measured["errors"],
            "worker_rss_mb": rss,
            "pg_backend_rss_anon_mb_after_rounds": backend,
            "rounds": rounds,
            "seconds_per_round": seconds,
            "server": "gunicorn 1 sync worker per server, CONN_MAX_AGE=300, no max-requests; s10 and o2x "
            "TENANT_CONN_MAX_SCHEMAS=0, r2x and f2x as configured; client: http.client in a separate "
            "process, one request at a time",
            "goal_p50_ratio": 1.2,
        }
    )
    return result
