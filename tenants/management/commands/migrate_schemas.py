"""`migrate_schemas`: django-tenants' command, with the tenant part done by our orchestrator.

    manage.py migrate_schemas                       # public (stock path), then every tenant schema
    manage.py migrate_schemas --tenant --parallel 4 # tenant schemas only, 4 worker processes
    manage.py migrate_schemas --tenant --resume     # only the schemas that did not succeed last run
    manage.py migrate_schemas --shared              # public only (stock)
    manage.py migrate_schemas -s <schema>           # one schema (stock)

Anything the orchestrator does not cover (one schema, an app label / migration name, --fake,
--plan, --check, --prune, an explicit --executor, multi-type tenants) goes down the stock path.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.utils import has_multi_type_tenants
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tenants.migration import FAILED, OK, MigrationReport, SchemaOutcome, tenants_migrate_shards
from tenants.routing import shard_activate, shard_aliases

_VERBOSE = 2  # --verbosity 2 lists every schema, skipped ones too

_STOCK_ONLY_OPTIONS = (
    "schema_name",
    "app_label",
    "migration_name",
    "fake",
    "fake_initial",
    "plan",
    "prune",
    "run_syncdb",
    "check_unapplied",
    "executor",
)


class Command(MigrateSchemasCommand):
    help = (
        "Migrate the public schema, then every tenant schema (assigned and spare) in parallel, "
        "skipping those already up to date, with a per-schema report. --resume retries failures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--resume",
            action="store_true",
            default=False,
            help="Only the tenant schemas that did not succeed in the last run for the same migrations.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stock = any(options.get(name) for name in _STOCK_ONLY_OPTIONS) or has_multi_type_tenants()
        tenants_only = options.get("tenant") and not options.get("shared")
        shared_only = options.get("shared") and not options.get("tenant")
        if stock or shared_only:
            if options.get("resume"):
                raise CommandError("--resume applies to the tenant schemas as a whole (no -s / --shared).")
            super().handle(*args, **options)
            if shared_only and not stock:
                for alias in shard_aliases()[1:]:
                    with shard_activate(alias):
                        super().handle(*args, **options)
            return
        if not tenants_only:
            super().handle(*args, **{**options, "shared": True, "tenant": False})
            for alias in shard_aliases()[1:]:  # each other shard's public schema (tenants/shards.py)
                with shard_activate(alias):
                    super().handle(*args, **{**options, "shared": True, "tenant": False})
        self._migrate_tenants(options)

    def _migrate_tenants(self, options: dict[str, Any]) -> None:
        verbosity = int(options.get("verbosity", 1))
        console = Console(file=self.stdout._out, highlight=False, soft_wrap=True)
        progress = Progress(
            TextColumn("[bold]tenant schemas"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=console,
            disable=verbosity < 1,
        )
        bar: dict[str, Any] = {}

        sharded = len(shard_aliases()) > 1
        lock = threading.Lock()  # one progress bar fed by one thread per shard

        def on_planned(shard: str, total: int, pending: int) -> None:
            with lock:
                if verbosity >= 1:
                    where = f" on shard {shard}" if sharded else ""
                    console.print(
                        f"{total} tenant schema(s){where}: {pending} to migrate, {total - pending} up to date"
                    )
                if "id" not in bar:
                    bar["id"] = progress.add_task("migrate", total=total, failed=0)
                    bar["failed"] = 0
                else:
                    current = next(t for t in progress.tasks if t.id == bar["id"]).total or 0
                    progress.update(bar["id"], total=current + total)

        def on_result(_shard: str, outcome: SchemaOutcome) -> None:
            with lock:
                if outcome.outcome == FAILED:
                    bar["failed"] += 1
                progress.update(bar["id"], advance=1, failed=bar["failed"])

        with progress:
            report = tenants_migrate_shards(
                parallel=options.get("parallel"),
                resume=bool(options.get("resume")),
                on_planned=on_planned,
                on_result=on_result,
            )
        if verbosity >= 1:
            self._print_report(console, report, verbosity=verbosity)
        if report.failed:
            raise CommandError(
                f"{len(report.failed)} tenant schema(s) failed (run {report.run_id}); the others are migrated. "
                "Fix the cause, then run `migrate_schemas --tenant --resume`."
            )

    @staticmethod
    def _print_report(console: Console, report: MigrationReport, *, verbosity: int) -> None:
        shown = [r for r in report.results if verbosity >= _VERBOSE or r.outcome != "skipped"]
        if shown:
            table = Table(title=f"migration run {report.run_id}")
            table.add_column("schema")
            table.add_column("outcome")
            table.add_column("migrations", justify="right")
            table.add_column("seconds", justify="right")
            table.add_column("error", overflow="fold")
            styles = {OK: "green", FAILED: "red"}
            for r in sorted(shown, key=lambda r: (r.outcome != FAILED, r.schema_name)):
                table.add_row(
                    r.schema_name,
                    f"[{styles.get(r.outcome, 'dim')}]{r.outcome}[/]",
                    str(r.applied),
                    f"{r.seconds:.2f}",
                    r.error,
                )
            console.print(table)
        console.print(
            f"migrated {len(report.migrated)}, up to date {len(report.skipped)}, "
            f"failed {len(report.failed)} of {report.total} in {report.seconds:.1f}s"
        )
