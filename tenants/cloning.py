"""Build a tenant schema by copying the structure of an up-to-date one, instead of migrating.

Migrating a fresh schema costs about half a second (Django loads the migration graph, renders the
project state and runs every operation). A schema that is already fully migrated holds the same
result, so copying it is enough:

1. every table: `CREATE TABLE new.t (LIKE template.t INCLUDING DEFAULTS, IDENTITY, CONSTRAINTS, …)`
   (columns, defaults, NOT NULL and CHECK constraints, identity columns with their own sequences);
2. primary keys, unique constraints and indexes under their original names (later migrations
   drop or rename them by name), then every foreign key, all from `pg_get_constraintdef` /
   `pg_get_indexdef` printed relative to the template's search path and replayed in the new one;
3. the rows migrations leave behind: `django_migrations`, `django_content_type`, `auth_permission`,
   with identity sequences moved past the copied ids.

The template is any existing tenant or spare schema whose applied migrations cover the whole plan
(checked against the migration graph, loaded once per process). Anything the copy does not handle
(views, functions, triggers, sequences that are not identity columns) makes `schema_clone` refuse,
and the caller falls back to migrating. Everything runs in the caller's transaction.
"""

from __future__ import annotations

import functools
import logging
import re

from django.conf import settings

from tenants.conn import connection

logger = logging.getLogger(__name__)

# Tables whose rows come from migrations (post_migrate: content types, permissions) and the history.
SEED_TABLES = ("django_migrations", "django_content_type", "auth_permission")


class CloneRefused(Exception):
    """The template has something the copy does not reproduce; migrate instead."""


@functools.cache
def _planner(_migration_modules: str):
    """One migration graph per process (and per MIGRATION_MODULES, which tests may change)."""
    from tenants.migration import MigrationPlanner

    return MigrationPlanner()


def template_schema() -> str | None:
    """The newest tenant or spare schema that is fully migrated, or None."""
    from tenants.migration import schemas_applied_migrations
    from tenants.models import SpareSchema, Tenant
    from tenants.routing import current_shard

    shard = current_shard()  # a template on the shard the copy is made on
    candidates = list(
        Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .filter(shard=shard)
        .order_by("-created_at")
        .values_list("schema_name", flat=True)[:3]
    )
    candidates += list(
        SpareSchema.objects.filter(shard=shard).order_by("-created_at").values_list("schema_name", flat=True)[:2]
    )
    if not candidates:
        return None
    applied = schemas_applied_migrations(schema_names=candidates)
    planner = _planner(repr(getattr(settings, "MIGRATION_MODULES", {})))
    for name in candidates:
        history = applied.get(name)
        if history is None:
            continue
        plan, partial = planner.pending(applied=history)
        if not plan and not partial:
            return name
    return None


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def schema_clone(*, template: str, schema_name: str) -> None:
    """Create `schema_name` as a structural copy of `template` (plus its migration-made rows)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [template])
        row = cursor.fetchone()
        if row is None:
            raise CloneRefused(f"no schema {template}")
        nsp = row[0]
        cursor.execute(
            """
            SELECT
              (SELECT count(*) FROM pg_class WHERE relnamespace = %(n)s AND relkind NOT IN ('r', 'i', 'S')),
              (SELECT count(*) FROM pg_proc WHERE pronamespace = %(n)s),
              (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                WHERE c.relnamespace = %(n)s AND NOT t.tgisinternal),
              (SELECT count(*) FROM pg_class s WHERE s.relnamespace = %(n)s AND s.relkind = 'S'
                AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = s.oid AND d.deptype = 'i'))
            """,
            {"n": nsp},
        )
        others, functions, triggers, loose_sequences = cursor.fetchone()
        if others or functions or triggers or loose_sequences:
            raise CloneRefused(
                f"{template} has {others} views/other relations, {functions} functions, "
                f"{triggers} triggers, {loose_sequences} non-identity sequences"
            )
        cursor.execute("SELECT relname FROM pg_class WHERE relnamespace = %s AND relkind = 'r' ORDER BY relname", [nsp])
        tables = [r[0] for r in cursor.fetchall()]
        if not tables:
            raise CloneRefused(f"{template} has no tables")
        # Foreign keys as text, printed with the template first on the search path.
        cursor.execute(f"SET LOCAL search_path = {_q(template)}, public")
        cursor.execute(
            """
            SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)
              FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
             WHERE k.connamespace = %s AND k.contype = 'f'
             ORDER BY c.relname, k.conname
            """,
            [nsp],
        )
        foreign_keys = cursor.fetchall()

        # Primary keys, unique and exclusion constraints (their indexes carry the same names) and the
        # other indexes, by name: later migrations drop and rename them by these names.
        cursor.execute(
            """
            SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)
              FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
             WHERE k.connamespace = %s AND k.contype IN ('p', 'u', 'x')
             ORDER BY c.relname, k.contype, k.conname
            """,
            [nsp],
        )
        keys = cursor.fetchall()
        cursor.execute(
            """
            SELECT pg_get_indexdef(i.indexrelid)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE c.relnamespace = %s
               AND NOT EXISTS (
                   SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')
               )
             ORDER BY c.relname
            """,
            [nsp],
        )
        on_template = re.compile(rf" ON (ONLY )?(?:{re.escape(template)}|{re.escape(_q(template))})\.")
        indexes = [on_template.sub(lambda m: f" ON {m.group(1) or ''}", row[0]) for row in cursor.fetchall()]

        cursor.execute(f"CREATE SCHEMA {_q(schema_name)}")
        for table in tables:
            cursor.execute(
                f"CREATE TABLE {_q(schema_name)}.{_q(table)} (LIKE {_q(template)}.{_q(table)} "
                "INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING CONSTRAINTS "
                "INCLUDING STORAGE INCLUDING COMMENTS INCLUDING COMPRESSION)"
            )
        cursor.execute(f"SET LOCAL search_path = {_q(schema_name)}, public")
        for table, name, definition in keys:
            cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
        for definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
        for table in SEED_TABLES:
            if table not in tables:
                continue
            cursor.execute(
                f"INSERT INTO {_q(schema_name)}.{_q(table)} SELECT * FROM {_q(template)}.{_q(table)}"  # noqa: S608
            )
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST(1, (SELECT max(id) FROM {_q(table)})))",  # noqa: S608
                [f"{schema_name}.{table}"],
            )
        # Leave the connection as django-tenants expects it (the next query sets its own path).
        cursor.execute("SET LOCAL search_path = public")
    connection.set_schema_to_public()
