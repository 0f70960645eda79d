"""New schemas copied from an up-to-date one are the same as migrated ones (tenants/cloning.py)."""

from __future__ import annotations

import pytest
from django.db import connection as dj_connection
from django_tenants.utils import schema_context

from shared_apps.accounts.services import organization_provision
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_create
from tenants.base.actor import Actor
from tenants.cloning import SEED_TABLES, CloneRefused, schema_clone, template_schema
from tenants.migration import schemas_applied_migrations
from tenants.models import SpareSchema, Tenant
from tenants.naming import generate_schema_name
from tenants.services import schema_create_migrated, schema_create_ready

pytestmark = pytest.mark.django_db


def describe(schema: str) -> dict[str, list]:
    """The schema's structure with its own name taken out, so two schemas can be compared."""
    with dj_connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, ''),
                   is_identity, coalesce(identity_generation, '')
              FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2
            """,
            [schema],
        )
        columns = cursor.fetchall()
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1, 2", [schema]
        )
        indexes = [(t, i, d.replace(f"{schema}.", "S.")) for t, i, d in cursor.fetchall()]
        cursor.execute(
            """
            SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
              FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
              JOIN pg_namespace n ON n.oid = k.connamespace
             WHERE n.nspname = %s ORDER BY 1, 2
            """,
            [schema],
        )
        constraints = [(t, n, ty, d.replace(f"{schema}.", "S.")) for t, n, ty, d in cursor.fetchall()]
        seeds = {}
        for table in SEED_TABLES:
            cursor.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY id')
            seeds[table] = [row for row in cursor.fetchall()]
    return {"columns": columns, "indexes": indexes, "constraints": constraints, "seeds": list(seeds.items())}


def test_a_copied_schema_is_identical_to_a_migrated_one() -> None:
    template = schema_create_migrated()
    copy = generate_schema_name()
    schema_clone(template=template, schema_name=copy)
    assert describe(copy) == describe(template)
    assert describe(copy)["constraints"], "the comparison must see constraints"
    assert any(ty == "f" for _, _, ty, _ in describe(copy)["constraints"]), "and foreign keys"
    # The migration history says it is up to date: migrate_schemas will treat it like any other.
    assert (
        schemas_applied_migrations(schema_names=[copy])[copy]
        == schemas_applied_migrations(schema_names=[template])[template]
    )


def test_a_tenant_on_a_copied_schema_works_and_starts_its_own_ids(tenant_a: Tenant) -> None:
    assert template_schema() is not None
    SpareSchema.objects.all().delete()  # force the no-pool path
    tenant = organization_provision(slug="copied", name="Copied", owner_email="owner@copied.test")
    with schema_context(tenant.schema_name):
        project = project_create(actor=Actor(user=None), tenant=tenant, name="First")
        assert project.pk == 1
        assert Project.objects.count() == 1
    with schema_context(tenant_a.schema_name):
        assert not Project.objects.filter(name="First").exists()  # nothing shared with the template


def test_a_template_with_something_unexpected_is_refused_and_migrating_takes_over() -> None:
    template = schema_create_migrated()
    want = describe(template)
    with dj_connection.cursor() as cursor:
        cursor.execute(f'CREATE VIEW "{template}".odd AS SELECT 1 AS one')
    with pytest.raises(CloneRefused):
        schema_clone(template=template, schema_name=generate_schema_name())
    # schema_create_ready still produces a complete schema (copy from another template, or migrate).
    ready = schema_create_ready()
    got = describe(ready)
    assert got["columns"] == want["columns"]
    assert got["constraints"] == want["constraints"]
    assert [(t, [r[1:3] for r in rows]) for t, rows in got["seeds"]][:1] == [
        (t, [r[1:3] for r in rows]) for t, rows in want["seeds"]
    ][:1]  # the same migration history (app, name)
