"""The tenant migration orchestrator behind `migrate_schemas --tenant`.

Stock django-tenants runs Django's `migrate` once per schema, rebuilding the migration graph and
the project state every time (about 0.2 s per schema even with nothing to do). Here:

1. The migration graph is loaded once. Every tenant schema's applied migrations are read in one
   query per 500 schemas (a UNION ALL over `<schema>.django_migrations`), and compared with the
   full plan. Schemas already up to date are skipped without any other work.
2. Schemas that share the same pending plan share a *recipe*: the plan's SQL is rendered once
   (Django's own schema editor in collect-SQL mode, as `sqlmigrate` does) and replayed in each
   schema, followed by the migration rows and the `post_migrate` signal (content types and
   permissions), all in one transaction per schema. A plan with an operation that cannot be
   expressed as SQL (RunPython, RenameModel, non-atomic migrations) and a schema without
   migration history fall back to Django's `migrate` for that schema, still inside one
   transaction when the migrations allow it.
3. Pending schemas are spread over a pool of worker processes ("spawn": each one sets Django up
   once and handles many schemas on one connection, recycled every few hundred schemas).
4. Each run and each schema's outcome are stored in `TenantMigrationRun`/`TenantMigrationResult`,
   so `--resume` retries only the schemas that did not succeed last time.

A failure in one schema rolls back that schema only; the other schemas carry on.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from tenants.conn import connection

_RESULT_BATCH = 100  # outcomes written to the ledger per flush

Node = tuple[str, str]  # (app_label, migration name)

OK = "ok"
SKIPPED = "skipped"
FAILED = "failed"

_APPLIED_QUERY_CHUNK = 500
_RECYCLE_CONNECTION_EVERY = 200  # schemas per worker connection (catalog caches grow per table)
# Settings a worker process must share with the process that started it (a test run renames the
# database; a test or benchmark may point an app at other migration modules).
_WORKER_SETTINGS = ("DATABASES", "MIGRATION_MODULES", "TENANT_SHARDS")


@dataclass(frozen=True)
class SchemaOutcome:
    schema_name: str
    outcome: str  # OK / SKIPPED / FAILED
    seconds: float = 0.0
    error: str = ""
    applied: int = 0  # migrations applied


@dataclass
class MigrationReport:
    run_id: int
    total: int
    results: list[SchemaOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[SchemaOutcome]:
        return [r for r in self.results if r.outcome == FAILED]

    @property
    def migrated(self) -> list[SchemaOutcome]:
        return [r for r in self.results if r.outcome == OK]

    @property
    def skipped(self) -> list[SchemaOutcome]:
        return [r for r in self.results if r.outcome == SKIPPED]


@dataclass(frozen=True)
class _Task:
    schema_name: str
    plan: tuple[Node, ...]
    full: bool  # migrate with Django's own command (no history yet, or a partial squash)
    shard: str = "default"  # the database alias holding the schema (tenants/routing.py)


# --- Reads ---------------------------------------------------------------------------------------


def tenant_schema_names(*, shard: str | None = None) -> list[str]:
    """Every tenant schema (on `shard`, or on every shard): assigned ones and the spare pool (spares
    must stay migrated too)."""
    from tenants.models import SpareSchema, Tenant

    tenants = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
    spares = SpareSchema.objects.all()
    if shard is not None:
        tenants, spares = tenants.filter(shard=shard), spares.filter(shard=shard)
    names = set(tenants.values_list("schema_name", flat=True))
    names.update(spares.values_list("schema_name", flat=True))
    return sorted(names)


class MigrationPlanner:
    """The migration graph, loaded once, and the plan each schema needs."""

    def __init__(self) -> None:
        from django.db.migrations.loader import MigrationLoader

        self.loader = MigrationLoader(None, ignore_no_migrations=True)
        graph = self.loader.graph
        self.full_plan: list[Node] = []
        seen: set[Node] = set()
        for leaf in sorted(graph.leaf_nodes()):
            for node in graph.forwards_plan(leaf):
                if node not in seen:
                    seen.add(node)
                    self.full_plan.append(node)
        self.nodes = seen

    def target(self) -> dict[str, list[str]]:
        """The leaf migration of every app: what "up to date" means for this run."""
        leaves: dict[str, list[str]] = {}
        for app_label, name in sorted(self.loader.graph.leaf_nodes()):
            leaves.setdefault(app_label, []).append(name)
        return leaves

    def pending(self, *, applied: set[Node]) -> tuple[list[Node], bool]:
        """(plan, needs_full_migrate) for a schema whose history is `applied`."""
        applied = set(applied)
        partial_squash = False
        for key, migration in self.loader.replacements.items():
            replaced = [tuple(r) for r in migration.replaces]
            done = sum(1 for r in replaced if r in applied)
            if done == len(replaced):
                applied.add(key)
            elif done:
                partial_squash = True
        plan = [node for node in self.full_plan if node not in applied]
        return plan, partial_squash


def schemas_applied_migrations(*, schema_names: Sequence[str]) -> dict[str, set[Node] | None]:
    """Each schema's applied migrations, read in one query per chunk of schemas.

    None for a schema that has no `django_migrations` table (never migrated); a schema that does
    not exist at all is left out of the answer.
    """
    from django_tenants.postgresql_backend.base import is_valid_schema_name

    result: dict[str, set[Node] | None] = {}
    names = [name for name in schema_names if is_valid_schema_name(name)]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.name, c.oid IS NOT NULL
              FROM unnest(%s::text[]) AS s(name)
              JOIN pg_namespace n ON n.nspname = s.name
              LEFT JOIN pg_class c
                ON c.relnamespace = n.oid AND c.relname = 'django_migrations' AND c.relkind = 'r'
            """,
            [names],
        )
        with_table = []
        for name, has_table in cursor.fetchall():
            result[name] = set() if has_table else None
            if has_table:
                with_table.append(name)
        for start in range(0, len(with_table), _APPLIED_QUERY_CHUNK):
            chunk = with_table[start : start + _APPLIED_QUERY_CHUNK]
            # Names are checked by is_valid_schema_name above and quoted; values go as parameters.
            sql = " UNION ALL ".join(
                f"SELECT %s, app, name FROM {connection.ops.quote_name(name)}.django_migrations"  # noqa: S608
                for name in chunk
            )
            cursor.execute(sql, chunk)
            for schema_name, app, name in cursor.fetchall():
                result[schema_name].add((app, name))  # type: ignore[union-attr]
    return result


def _resume_candidates(*, schema_names: Sequence[str], target: dict[str, list[str]]) -> list[str]:
    """Schemas whose latest result in runs with this same target is missing or not a success."""
    from tenants.models import TenantMigrationResult

    latest: dict[str, str] = {}
    rows = (
        TenantMigrationResult.objects.filter(run__target=target)
        .order_by("run__started_at", "run_id")
        .values_list("schema_name", "outcome")
    )
    for schema_name, outcome in rows:
        latest[schema_name] = outcome
    return [name for name in schema_names if latest.get(name) not in (OK, SKIPPED)]


# --- Applying a plan in one schema ---------------------------------------------------------------


@dataclass
class _Recipe:
    statements: list[str] | None  # None: the plan cannot be replayed as SQL
    migrations: list[Any]
    post_apps: Any = None


class SchemaMigrator:
    """Applies plans to schemas on this process's connection; one per process (or per run in-process)."""

    def __init__(self) -> None:
        self.planner = MigrationPlanner()
        self._recipes: dict[tuple[Node, ...], _Recipe] = {}
        self.handled = 0

    def migrate(self, task: _Task) -> SchemaOutcome:
        started = time.perf_counter()
        try:
            if task.full:
                self._migrate_with_django(task.schema_name, atomic=True)
            else:
                recipe = self._recipe(task.plan, schema_name=task.schema_name)
                if recipe.statements is None:
                    self._migrate_with_django(task.schema_name, atomic=all(m.atomic for m in recipe.migrations))
                else:
                    self._replay(task.schema_name, recipe, task.plan)
        except Exception as exc:
            return SchemaOutcome(
                schema_name=task.schema_name,
                outcome=FAILED,
                seconds=time.perf_counter() - started,
                error=_describe(exc),
            )
        finally:
            connection.set_schema_to_public()
            self.handled += 1
            if self.handled % _RECYCLE_CONNECTION_EVERY == 0 and not connection.in_atomic_block:
                connection.close()
        return SchemaOutcome(
            schema_name=task.schema_name,
            outcome=OK,
            seconds=time.perf_counter() - started,
            applied=len(task.plan),
        )

    def _recipe(self, plan: tuple[Node, ...], *, schema_name: str) -> _Recipe:
        recipe = self._recipes.get(plan)
        if recipe is not None:
            return recipe
        from django.db.migrations.operations import RenameModel
        from django.db.migrations.state import ProjectState

        loader = self.planner.loader
        migrations = [loader.graph.nodes[node] for node in plan]
        replayable = all(
            m.atomic and all(op.reduces_to_sql and not isinstance(op, RenameModel) for op in m.operations)
            for m in migrations
        )
        if not replayable:
            recipe = _Recipe(statements=None, migrations=migrations)
        else:
            pending = set(plan)
            state = ProjectState(real_apps=loader.unmigrated_apps)
            for node in self.planner.full_plan:
                if node not in pending:
                    loader.graph.nodes[node].mutate_state(state, preserve=False)
            # The router decides per schema type: render the SQL as a tenant schema sees it.
            connection.set_schema(schema_name)
            statements: list[str] = []
            for migration in migrations:
                with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
                    state = migration.apply(state, editor, collect_sql=True)
                statements.extend(editor.collected_sql)
            state.clear_delayed_apps_cache()
            recipe = _Recipe(statements=statements, migrations=migrations, post_apps=state.apps)
        self._recipes[plan] = recipe
        return recipe

    def _replay(self, schema_name: str, recipe: _Recipe, plan: tuple[Node, ...]) -> None:
        from django.apps import apps as global_apps
        from django.contrib.contenttypes.models import ContentType
        from django.db.models.signals import post_migrate
        from django.utils import timezone

        assert recipe.statements is not None
        connection.set_schema(schema_name)
        now = timezone.now()
        with transaction.atomic():
            with connection.cursor() as cursor:
                for statement in recipe.statements:
                    cursor.execute(statement)
                cursor.executemany(
                    "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)",
                    [(app, name, now) for app, name in plan],
                )
            ContentType.objects.clear_cache()
            recipe.post_apps.get_model("contenttypes", "ContentType").objects.clear_cache()
            # post_migrate for the apps the plan touched (their new content types and permissions);
            # the stock command sends it for every app, which is ~50 queries per schema for nothing.
            touched = {m.app_label for m in recipe.migrations}
            for app_config in global_apps.get_app_configs():
                if app_config.models_module is None or app_config.label not in touched:
                    continue
                post_migrate.send(
                    sender=app_config,
                    app_config=app_config,
                    verbosity=0,
                    interactive=False,
                    using=connection.alias,
                    apps=recipe.post_apps,
                    plan=[(m, False) for m in recipe.migrations],
                )

    @staticmethod
    def _migrate_with_django(schema_name: str, *, atomic: bool) -> None:
        """Django's own `migrate` in one schema (the stock path, without django-tenants' wrapper)."""
        from io import StringIO

        from django.core.management import call_command
        from django.db.migrations.recorder import MigrationRecorder
        from django_tenants.utils import get_tenant_base_migrate_command_class

        command = get_tenant_base_migrate_command_class()(stdout=StringIO(), stderr=StringIO())
        with transaction.atomic() if atomic else _nullcontext():
            # django_migrations must exist in the schema itself, or the public one would be used.
            connection.set_schema(schema_name, include_public=False)
            MigrationRecorder(connection).ensure_schema()
            connection.set_schema(schema_name)
            call_command(command, interactive=False, verbosity=0, skip_checks=True)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    tb = traceback.extract_tb(exc.__traceback__)
    if tb:
        frame = tb[-1]
        text += f" ({os.path.basename(frame.filename)}:{frame.lineno})"
    return text[:4000]


# --- Worker processes ----------------------------------------------------------------------------

_worker_migrator: SchemaMigrator | None = None


def _worker_init(overrides: dict[str, Any]) -> None:
    global _worker_migrator
    for name, value in overrides.items():
        setattr(settings, name, value)
    import django

    django.setup()
    _worker_migrator = SchemaMigrator()


def _worker_migrate(task: _Task) -> SchemaOutcome:
    assert _worker_migrator is not None
    return _migrate_on_shard(_worker_migrator, task)


def _migrate_on_shard(migrator: SchemaMigrator, task: _Task) -> SchemaOutcome:
    """Migrate on the task's shard; on a shard other than the control database, drop the foreign keys
    a migration may have added from tenant tables to public ones (D131)."""
    from tenants.routing import shard_activate

    with shard_activate(task.shard):
        outcome = migrator.migrate(task)
        if task.shard != "default" and outcome.outcome == OK:
            from tenants.shards import schema_detach_global_references

            try:
                schema_detach_global_references(schema_name=task.schema_name)
            finally:
                connection.set_schema_to_public()
        return outcome


# --- Orchestration (writes) ----------------------------------------------------------------------

ProgressCallback = Callable[[SchemaOutcome], None]


def tenants_migrate(
    *,
    schema_names: Iterable[str] | None = None,
    parallel: int | None = None,
    resume: bool = False,
    on_planned: Callable[[int, int], None] | None = None,
    on_result: ProgressCallback | None = None,
    shard: str = "default",
) -> MigrationReport:
    """Migrate every tenant schema of `shard` (or `schema_names` there) to the latest migrations.

    `on_planned(total, pending)` is called once the plan is known, `on_result` once per schema.
    Never raises for a schema's failure: look at `report.failed`.
    """
    from tenants.routing import shard_activate

    with shard_activate(shard):
        return _tenants_migrate(
            schema_names=schema_names,
            parallel=parallel,
            resume=resume,
            on_planned=on_planned,
            on_result=on_result,
            shard=shard,
        )


def tenants_migrate_shards(
    *,
    parallel: int | None = None,
    resume: bool = False,
    on_planned: Callable[[str, int, int], None] | None = None,
    on_result: Callable[[str, SchemaOutcome], None] | None = None,
) -> MigrationReport:
    """Every shard's tenant schemas at once (one thread per shard, each with its own `parallel`
    worker processes), merged into one report. Without TENANT_SHARDS: `tenants_migrate()`."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from tenants.routing import shard_aliases

    started = time.perf_counter()
    aliases = shard_aliases()

    def one(alias: str) -> MigrationReport:
        try:
            return tenants_migrate(
                parallel=parallel,
                resume=resume,
                shard=alias,
                on_planned=(lambda total, pending: on_planned(alias, total, pending)) if on_planned else None,
                on_result=(lambda outcome: on_result(alias, outcome)) if on_result else None,
            )
        finally:
            if len(aliases) > 1:
                connections.close_all()  # this thread's own connections

    if len(aliases) == 1:
        return one(aliases[0])
    with ThreadPoolExecutor(max_workers=len(aliases), thread_name_prefix="migrate-shard") as pool:
        reports = list(pool.map(one, aliases))
    return MigrationReport(
        run_id=reports[0].run_id,
        total=sum(r.total for r in reports),
        results=[o for r in reports for o in r.results],
        seconds=time.perf_counter() - started,
    )


def _tenants_migrate(
    *,
    schema_names: Iterable[str] | None,
    parallel: int | None,
    resume: bool,
    on_planned: Callable[[int, int], None] | None,
    on_result: ProgressCallback | None,
    shard: str,
) -> MigrationReport:
    from tenants.models import TenantMigrationResult, TenantMigrationRun

    started = time.perf_counter()
    connection.set_schema_to_public()
    planner = MigrationPlanner()
    target = planner.target()
    names = sorted(set(schema_names)) if schema_names is not None else tenant_schema_names(shard=shard)
    if resume:
        names = _resume_candidates(schema_names=names, target=target)

    run = TenantMigrationRun.objects.create(target=target)
    applied_by_schema = schemas_applied_migrations(schema_names=names)
    results: list[SchemaOutcome] = []
    tasks: list[_Task] = []
    for name in names:
        if name not in applied_by_schema:
            results.append(SchemaOutcome(schema_name=name, outcome=FAILED, error="schema does not exist"))
            continue
        applied = applied_by_schema[name]
        if applied is None:
            tasks.append(_Task(schema_name=name, plan=tuple(planner.full_plan), full=True, shard=shard))
            continue
        plan, partial_squash = planner.pending(applied=applied)
        if plan:
            tasks.append(_Task(schema_name=name, plan=tuple(plan), full=partial_squash, shard=shard))
        else:
            results.append(SchemaOutcome(schema_name=name, outcome=SKIPPED))
    # Schemas sharing a plan go together, so each worker renders a plan's SQL once.
    tasks.sort(key=lambda t: (t.full, t.plan, t.schema_name))

    if on_planned is not None:
        on_planned(len(names), len(tasks))
    if on_result is not None:
        for outcome in results:
            on_result(outcome)

    workers = max(1, min(parallel or os.cpu_count() or 1, len(tasks)))
    pending_rows: list[SchemaOutcome] = list(results)

    def record(outcome: SchemaOutcome) -> None:
        results.append(outcome)
        pending_rows.append(outcome)
        if on_result is not None:
            on_result(outcome)
        if len(pending_rows) >= _RESULT_BATCH:
            flush()

    def flush() -> None:
        connection.set_schema_to_public()
        TenantMigrationResult.objects.bulk_create(
            [
                TenantMigrationResult(
                    run=run, schema_name=r.schema_name, outcome=r.outcome, error=r.error, seconds=r.seconds
                )
                for r in pending_rows
            ]
        )
        pending_rows.clear()

    if workers == 1 or len(tasks) <= 1:
        migrator = SchemaMigrator()
        for task in tasks:
            record(_migrate_on_shard(migrator, task))
    else:
        overrides = {name: getattr(settings, name) for name in _WORKER_SETTINGS if hasattr(settings, name)}
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(overrides,),
        ) as pool:
            futures = {pool.submit(_worker_migrate, task): task for task in tasks}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # a worker died (killed, out of memory)
                    outcome = SchemaOutcome(schema_name=task.schema_name, outcome=FAILED, error=_describe(exc))
                record(outcome)
    flush()
    run.finished_at = dt.datetime.now(tz=dt.UTC)
    run.save(update_fields=["finished_at"])
    return MigrationReport(run_id=run.pk, total=len(names), results=results, seconds=time.perf_counter() - started)
