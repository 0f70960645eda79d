"""Shards: where a new organization goes, each shard's spare pool, bringing a shard up, and the
references from tenant tables on a shard to global rows in the control database.

Layout (docs/scaling.md): the control database (`default` alias) holds the global tables and is
itself the shard "default". Every other shard is a PostgreSQL database with the same public-schema
tables (migrated, mostly empty) plus a read-only copy of `accounts_user` kept by logical replication
from the control database (publication `tenantry_global`), and the tenant schemas placed on it. On
those shards, tenant tables reference users by id without a foreign-key constraint (D131);
`shard_references_check` finds rows whose user is gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from tenants.routing import shard_activate, shard_aliases
from tenants.shard_config import DEFAULT_SHARD

logger = logging.getLogger(__name__)

GLOBAL_PUBLICATION = "tenantry_global"
# Global tables tenant tables point at (by id): copied read-only onto every other shard.
REPLICATED_GLOBAL_TABLES = ("accounts_user",)


# --- Connections outside Django (replication DDL cannot run in a transaction block) ----------------


def subscription_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    """Whether this database has the subscription `name` (pg_subscription is shared by every
    database of a cluster: two shard databases on one cluster may each have one of that name)."""
    row = conn.execute(
        "SELECT 1 FROM pg_subscription WHERE subname = %s "
        "AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        [name],
    ).fetchone()
    return row is not None


def shard_conninfo(alias: str) -> str:
    """libpq connection string of a shard alias (the control database is "default")."""
    db = connections.settings[DEFAULT_DB_ALIAS if alias == DEFAULT_SHARD else alias]
    parts = {
        "host": db.get("HOST") or "127.0.0.1",
        "port": str(db.get("PORT") or 5432),
        "dbname": db["NAME"],
        "user": db.get("USER") or "postgres",
    }
    if db.get("PASSWORD"):
        parts["password"] = db["PASSWORD"]
    return psycopg.conninfo.make_conninfo(**parts)


def shard_raw_connection(alias: str) -> psycopg.Connection[Any]:
    """An autocommit psycopg connection to the shard (the caller closes it)."""
    return psycopg.connect(shard_conninfo(alias), autocommit=True)


# --- Placement -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardLoad:
    shard: str
    weight: float
    organizations: int
    spare_schemas: int
    size_bytes: int | None

    @property
    def load(self) -> float:
        """Organizations per unit of weight, plus 1 per 10 GB per unit of weight (size counts too)."""
        if self.weight <= 0:
            return float("inf")
        size_gb = (self.size_bytes or 0) / 1e9
        return (self.organizations + size_gb / 10) / self.weight


def shard_weight(alias: str) -> float:
    return float(getattr(settings, "TENANT_SHARD_WEIGHTS", {}).get(alias, 1.0))


def shard_loads(*, with_size: bool = True) -> list[ShardLoad]:
    from django.db.models import Count

    from tenants.models import SpareSchema, Tenant

    with shard_activate(DEFAULT_SHARD):
        orgs = dict(Tenant.objects.values_list("shard").annotate(n=Count("pk")).values_list("shard", "n"))
        spares = dict(SpareSchema.objects.values_list("shard").annotate(n=Count("pk")).values_list("shard", "n"))
    loads = []
    for alias in shard_aliases():
        size = None
        if with_size:
            try:
                with shard_activate(alias), connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                    cursor.execute("SELECT pg_database_size(current_database())")
                    size = int(cursor.fetchone()[0])
            except Exception:  # an unreachable shard takes no new organizations
                logger.warning("shard %s did not answer its size query", alias, exc_info=True)
                loads.append(ShardLoad(alias, 0.0, orgs.get(alias, 0), spares.get(alias, 0), None))
                continue
        loads.append(ShardLoad(alias, shard_weight(alias), orgs.get(alias, 0), spares.get(alias, 0), size))
    return loads


def shard_for_new_tenant() -> str:
    """The shard with the most room: lowest (organizations + size) per unit of weight; ties go to the
    one with a spare schema ready, then to the configured order. Without TENANT_SHARDS: "default"."""
    aliases = shard_aliases()
    if len(aliases) == 1:
        return DEFAULT_SHARD
    loads = [s for s in shard_loads() if s.weight > 0]
    if not loads:
        raise RuntimeError("no shard accepts new organizations (every TENANT_SHARD_WEIGHTS entry is 0)")
    best = min(loads, key=lambda s: (s.load, s.spare_schemas == 0, aliases.index(s.shard)))
    return best.shard


# --- Bringing a shard up ---------------------------------------------------------------------------


def shard_bootstrap(*, alias: str, replicate_users: bool = True) -> None:
    """Make a new shard ready: the public-schema tables (migrated), the copy of the global tables
    tenant tables point at (logical replication from the control database), no spare schemas yet."""
    from django.core.management import call_command

    if alias == DEFAULT_SHARD:
        raise ValueError("the control database is bootstrapped by `migrate_schemas --shared`")
    with shard_activate(alias):
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    if replicate_users:
        shard_replication_setup(alias=alias)


def _subscription_name(alias: str) -> str:
    return f"tenantry_global_{alias}"


def shard_replication_setup(*, alias: str) -> None:
    """Publication of the referenced global tables on the control database (once), and a
    subscription on the shard that copies them, then follows every change (idempotent)."""
    with shard_raw_connection(DEFAULT_SHARD) as control:
        exists = control.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [GLOBAL_PUBLICATION]).fetchone()
        tables = sql.SQL(", ").join(sql.Identifier("public", t) for t in REPLICATED_GLOBAL_TABLES)
        if not exists:
            # No TRUNCATE: on a shard, other public tables still reference its copy (D131).
            control.execute(
                sql.SQL("CREATE PUBLICATION {} FOR TABLE {} WITH (publish = 'insert, update, delete')").format(
                    sql.Identifier(GLOBAL_PUBLICATION), tables
                )
            )
    with shard_raw_connection(alias) as shard:
        name = _subscription_name(alias)
        if subscription_exists(shard, name):
            return
        shard.execute(
            sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {}").format(
                sql.Identifier(name), sql.Literal(shard_conninfo(DEFAULT_SHARD)), sql.Identifier(GLOBAL_PUBLICATION)
            )
        )


def shard_replication_teardown(*, alias: str) -> None:
    """Drop the shard's subscription (and so its replication slot on the control database)."""
    with shard_raw_connection(alias) as shard:
        name = _subscription_name(alias)
        if subscription_exists(shard, name):
            shard.execute(sql.SQL("DROP SUBSCRIPTION {}").format(sql.Identifier(name)))


def shard_replication_lag(*, alias: str) -> int | None:
    """Bytes of control-database WAL the shard's copy of the global tables has not confirmed yet."""
    with shard_raw_connection(DEFAULT_SHARD) as control:
        row = control.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) FROM pg_replication_slots "
            "WHERE slot_name = %s",
            [_subscription_name(alias)],
        ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


# --- References to global rows from tenant tables on other shards ------------------------------------


def schema_detach_global_references(*, schema_name: str) -> list[str]:
    """On a shard other than the control database: drop the foreign keys from `schema_name`'s tables
    to public tables (the public copy there follows the control database with a lag, D131). Returns
    the dropped constraints as table.constraint. Runs on the active shard's connection."""
    dropped = []
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, k.conname
              FROM pg_constraint k
              JOIN pg_class t ON t.oid = k.conrelid
              JOIN pg_class r ON r.oid = k.confrelid
             WHERE k.contype = 'f' AND k.connamespace = %s::regnamespace
               AND r.relnamespace = 'public'::regnamespace
             ORDER BY t.relname, k.conname
            """,
            [schema_name],
        )
        for table, name in cursor.fetchall():
            cursor.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}")
                .format(sql.Identifier(schema_name, table), sql.Identifier(name))
                .as_string(None)
            )
            dropped.append(f"{table}.{name}")
    return dropped


@dataclass(frozen=True)
class DanglingReference:
    shard: str
    schema_name: str
    table: str
    column: str
    user_ids: list[int]


def _user_reference_columns() -> list[tuple[str, str, bool]]:
    """(table, column, nullable) of every tenant-app foreign key to the user model."""
    from django.apps import apps

    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    tenant_apps = set(settings.TENANT_APPS)
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_config.name not in tenant_apps or model._meta.app_config.name in settings.SHARED_APPS:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is user_model:
                found.append((model._meta.db_table, str(field.column), bool(field.null)))
    return found


def shard_references_check(*, alias: str, fix: bool = False) -> list[DanglingReference]:
    """Tenant rows on `alias` that point at users the control database no longer has.
    With `fix`, nullable references are set to NULL and rows with a required one are deleted
    (what the foreign key's cascade would have done on a single cluster)."""
    from django.contrib.auth import get_user_model

    from tenants.models import Tenant

    User = get_user_model()
    with shard_activate(DEFAULT_SHARD):
        schemas = list(Tenant.objects.filter(shard=alias).values_list("schema_name", flat=True))
    columns = _user_reference_columns()
    found: list[DanglingReference] = []
    with shard_activate(alias), connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        for schema in schemas:
            for table, column, _nullable in columns:
                cursor.execute(
                    sql.SQL("SELECT DISTINCT {} FROM {} WHERE {} IS NOT NULL")
                    .format(sql.Identifier(column), sql.Identifier(schema, table), sql.Identifier(column))
                    .as_string(None)
                )
                ids = [r[0] for r in cursor.fetchall()]
                if not ids:
                    continue
                with shard_activate(DEFAULT_SHARD):
                    present = set(User.objects.filter(pk__in=ids).values_list("pk", flat=True))
                missing = sorted(set(ids) - present)
                if missing:
                    found.append(DanglingReference(alias, schema, table, column, missing))
        if fix:
            nullable = {(t, c): n for t, c, n in columns}
            for ref in found:
                target = sql.Identifier(ref.schema_name, ref.table)
                col = sql.Identifier(ref.column)
                statement = (
                    sql.SQL("UPDATE {} SET {} = NULL WHERE {} = ANY(%s)").format(target, col, col)
                    if nullable[(ref.table, ref.column)]
                    else sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(target, col)
                )
                cursor.execute(statement.as_string(None), [ref.user_ids])
    return found
