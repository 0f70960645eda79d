"""The migration orchestrator behind `migrate_schemas --tenant`, against real PostgreSQL.

A pending migration comes from a test-only migrations package for `projects` (the real migrations
plus `0900_orchestrator_probe`, an AddField), switched on with MIGRATION_MODULES. A failing schema
is one where the column that migration adds already exists with another type.

Most tests run in-process (parallel=1) inside the test's transaction, so everything they do is
rolled back. The worker-process test needs committed schemas (other processes must see them): it
creates its own, passes them explicitly, and drops them and its run rows afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tenants.conn import connection
from tenants.migration import FAILED, OK, SKIPPED, schemas_applied_migrations, tenant_schema_names, tenants_migrate
from tenants.models import SpareSchema, Tenant, TenantMigrationResult, TenantMigrationRun
from tenants.naming import generate_schema_name
from tenants.services import schema_create_migrated, schema_drop

PENDING = override_settings(MIGRATION_MODULES={"projects": "tests.tenancy.pending_migrations"})
PROBE = ("projects", "0900_orchestrator_probe")


def _probe_column_type(schema_name: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'projects_project' AND column_name = 'orchestrator_probe'",
            [schema_name],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _has_probe_row(schema_name: str) -> bool:
    return PROBE in (schemas_applied_migrations(schema_names=[schema_name])[schema_name] or set())


def _break(schema_name: str) -> None:
    """Make the pending AddField fail in this schema: the column exists already, as text."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE \"{schema_name}\".projects_project ADD COLUMN orchestrator_probe text DEFAULT 'x'")


def _repair(schema_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{schema_name}".projects_project DROP COLUMN orchestrator_probe')


def _outcomes(run: TenantMigrationRun) -> dict[str, str]:
    return dict(run.results.values_list("schema_name", "outcome"))


@pytest.fixture
def extra_schemas(db) -> list[str]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """Four more migrated tenant schemas in the spare pool (rolled back with the test)."""
    names = [schema_create_migrated() for _ in range(4)]
    SpareSchema.objects.bulk_create([SpareSchema(schema_name=name) for name in names])
    return names


def test_every_tenant_and_spare_schema_is_a_target(extra_schemas):
    names = tenant_schema_names()
    assert set(extra_schemas) <= set(names)
    assert set(Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True)) <= set(names)
    assert "public" not in names


@pytest.mark.usefixtures("extra_schemas")
def test_nothing_pending_skips_every_schema():
    report = tenants_migrate(parallel=1)
    assert report.total == len(tenant_schema_names())
    assert not report.failed
    assert not report.migrated
    assert {r.outcome for r in report.results} == {SKIPPED}
    run = TenantMigrationRun.objects.get(pk=report.run_id)
    assert run.finished_at is not None
    assert set(_outcomes(run).values()) == {SKIPPED}


def test_failing_schema_is_reported_and_left_unchanged_the_others_migrate(extra_schemas):
    bad, *good = extra_schemas
    _break(bad)
    with PENDING:
        with pytest.raises(CommandError, match="1 tenant schema"):
            call_command("migrate_schemas", tenant=True, interactive=False, parallel=1, verbosity=0)
        run = TenantMigrationRun.objects.order_by("-started_at", "-id").first()
        outcomes = _outcomes(run)
        assert outcomes[bad] == FAILED
        assert "orchestrator_probe" in run.results.get(schema_name=bad).error
        for name in good:
            assert outcomes[name] == OK
            assert _probe_column_type(name) == "integer"
            assert _has_probe_row(name)
        # Session tenants are tenant schemas like any other.
        assert outcomes[Tenant.objects.get(slug="alpha").schema_name] == OK
        # The failed schema kept its state: its own text column, no migration row.
        assert _probe_column_type(bad) == "text"
        assert not _has_probe_row(bad)


def test_resume_retries_only_the_failed_schema_then_everything_is_up_to_date(extra_schemas):
    bad = extra_schemas[0]
    _break(bad)
    with PENDING:
        with pytest.raises(CommandError):
            call_command("migrate_schemas", tenant=True, interactive=False, parallel=1, verbosity=0)
        first = TenantMigrationRun.objects.order_by("-started_at", "-id").first()
        assert list(_outcomes(first).values()).count(FAILED) == 1

        _repair(bad)
        call_command("migrate_schemas", tenant=True, interactive=False, parallel=1, verbosity=0, resume=True)
        resumed = TenantMigrationRun.objects.order_by("-started_at", "-id").first()
        assert resumed.pk != first.pk
        assert _outcomes(resumed) == {bad: OK}
        assert _probe_column_type(bad) == "integer"
        assert _has_probe_row(bad)

        # Nothing left to resume, and a full run finds every schema up to date.
        report = tenants_migrate(parallel=1, resume=True)
        assert report.total == 0
        report = tenants_migrate(parallel=1)
        assert report.total == len(tenant_schema_names())
        assert {r.outcome for r in report.results} == {SKIPPED}


@pytest.mark.usefixtures("capsys")
def test_report_table_and_summary_are_printed(extra_schemas):
    from io import StringIO

    _break(extra_schemas[0])
    out = StringIO()
    with PENDING, pytest.raises(CommandError):
        call_command("migrate_schemas", tenant=True, interactive=False, parallel=1, stdout=out)
    text = out.getvalue()
    assert "to migrate" in text
    assert extra_schemas[0] in text
    assert "failed" in text
    assert f"failed 1 of {len(tenant_schema_names())}" in text


@pytest.mark.usefixtures("db")
def test_schema_without_history_is_migrated_from_scratch():
    name = generate_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{name}"')
    assert schemas_applied_migrations(schema_names=[name]) == {name: None}
    report = tenants_migrate(schema_names=[name], parallel=1)
    assert [(r.schema_name, r.outcome) for r in report.results] == [(name, OK)], report.results
    applied = schemas_applied_migrations(schema_names=[name])[name]
    assert applied
    assert ("projects", "0001_initial") in applied
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{name}".django_content_type')
        assert cursor.fetchone()[0] > 0


@pytest.mark.usefixtures("db")
def test_missing_schema_is_a_failure_not_a_crash():
    report = tenants_migrate(schema_names=["t_0000000000000000"], parallel=1)
    assert [(r.outcome, r.error) for r in report.results] == [(FAILED, "schema does not exist")]


def test_single_schema_stock_path_still_works(extra_schemas):
    name = extra_schemas[1]
    with PENDING:
        call_command("migrate_schemas", tenant=True, schema_name=name, interactive=False, verbosity=0)
    connection.set_schema_to_public()
    assert _probe_column_type(name) == "integer"


# --- Worker processes (committed data, cleaned up by hand) ---------------------------------------


@pytest.fixture
def committed_schemas(django_db_blocker) -> Iterator[list[str]]:
    with django_db_blocker.unblock():
        runs_before = set(TenantMigrationRun.objects.values_list("pk", flat=True))
        names = [schema_create_migrated() for _ in range(3)]
        try:
            yield names
        finally:
            connection.set_schema_to_public()
            for name in names:
                schema_drop(schema_name=name)
            TenantMigrationResult.objects.filter(schema_name__in=names).delete()
            TenantMigrationRun.objects.exclude(pk__in=runs_before).delete()


def test_parallel_workers_migrate_in_separate_processes(committed_schemas):
    bad, *good = committed_schemas
    _break(bad)
    with PENDING:
        report = tenants_migrate(schema_names=committed_schemas, parallel=2)
        outcomes = {r.schema_name: r.outcome for r in report.results}
        assert outcomes == {bad: FAILED, **dict.fromkeys(good, OK)}
        for name in good:
            assert _probe_column_type(name) == "integer"
            assert _has_probe_row(name)
        assert _probe_column_type(bad) == "text"
        assert not _has_probe_row(bad)

        _repair(bad)
        report = tenants_migrate(schema_names=committed_schemas, parallel=2, resume=True)
        assert {r.schema_name: r.outcome for r in report.results} == {bad: OK}
        assert _probe_column_type(bad) == "integer"
