"""`manage.py tenant list|suspend|reactivate|close|purge|export`.

`list` prints a table (slug, name, status, plan, members, created) or, with `--json`, one JSON array
for scripts. Lifecycle changes go through the same function as the Django admin's actions and are
written to the organization's audit log (via "cli", with the operating-system user who ran it).
`export` and `purge` show a progress bar on standard error when it is a terminal (`--no-progress`
turns it off) and end with a summary line.
"""

import getpass
import io
import json
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tenants import services
from tenants.management.progress import add_progress_argument, command_progress
from tenants.models import Tenant
from tenants.selectors import tenant_get

LIST_COLUMNS = ("slug", "name", "status", "plan", "members", "created")


def _operator_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return ""


class Command(BaseCommand):
    help = "Tenant lifecycle: list, suspend, reactivate, close, purge, export; shards and moves."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="List organizations: slug, name, status, plan, members, created.")
        listing.add_argument("--json", action="store_true", help="One JSON array instead of the table.")
        listing.add_argument("--status", help="Only organizations with this status.")
        for action in ("suspend", "reactivate", "close"):
            sub.add_parser(action, help=f"{action.capitalize()} an organization (audited).").add_argument("slug")
        purge = sub.add_parser("purge", help="Drop closed organizations whose retention period has passed.")
        purge.add_argument("slug", nargs="?", help="One organization; default: every expired one.")
        add_progress_argument(purge)
        move = sub.add_parser(
            "move", help="Move an organization to another shard while it keeps serving (resumable; audited)."
        )
        move.add_argument("slug")
        move.add_argument("--to", dest="to", help="The target shard (see `tenant shards`).")
        move.add_argument("--abort", action="store_true", help="Undo the unfinished move: stay on the source.")
        move.add_argument("--catchup-timeout", type=float, default=10.0, help="Seconds writes may stay paused.")
        sub.add_parser("moves", help="Recent moves: organization, shards, state, pause, retention.")
        sub.add_parser("moves-cleanup", help="Drop moved organizations' old schemas whose retention has passed.")
        sub.add_parser("shards", help="Shards: organizations, spare schemas, size, weight, users copy lag.")
        boot = sub.add_parser("shard-bootstrap", help="Prepare a new shard: public tables, copy of users.")
        boot.add_argument("shard")
        check = sub.add_parser("shard-check", help="Tenant rows on a shard that point at users gone from control.")
        check.add_argument("shard")
        check.add_argument("--fix", action="store_true", help="Null (or delete) what a foreign key would have.")
        export = sub.add_parser("export", help="Write an organization's data as JSON.")
        export.add_argument("slug")
        export.add_argument("--output", "-o", default="-", help="File path, or - for standard output.")
        add_progress_argument(export)

    def handle(self, *args: object, **opts: Any) -> None:
        action = opts["action"]
        try:
            if action == "list":
                self._list(opts)
            elif action in ("moves", "moves-cleanup", "shards", "shard-bootstrap", "shard-check"):
                from shared_apps.operators.shard_commands import run_shard_action

                run_shard_action(self, action, opts)
            elif action == "move":
                from shared_apps.operators.shard_commands import run_move

                run_move(self, tenant_get(slug=opts["slug"]), opts, operator_name=_operator_name())
            elif action == "purge" and not opts.get("slug"):
                self._purge_expired(opts)
            elif action == "export":
                self._export(tenant_get(slug=opts["slug"]), opts)
            elif action == "purge":
                tenant = tenant_get(slug=opts["slug"])
                services.tenant_purge(tenant=tenant)
                self.stdout.write(self.style.SUCCESS(f"{tenant.slug}: purged"))
            else:
                self._lifecycle(action, tenant_get(slug=opts["slug"]))
        except Tenant.DoesNotExist as exc:
            raise CommandError(f"no organization with slug {opts.get('slug')!r}") from exc
        except ValidationError as exc:
            raise CommandError(f"{exc.code}: {' '.join(exc.messages)}") from exc

    def _list(self, opts: dict[str, Any]) -> None:
        from billing.organizations import organization_list, organization_plan
        from tenants.routing import sharding_enabled

        sharded = sharding_enabled()  # the SHARD column only on an install with several shards
        columns = (*LIST_COLUMNS, "shard") if sharded else LIST_COLUMNS
        tenants = organization_list()
        if opts.get("status"):
            tenants = tenants.filter(status=opts["status"])
        rows = [
            {
                "slug": t.slug,
                "name": t.name,
                "status": t.status,
                "plan": organization_plan(t),
                "members": t.member_count,
                "created": t.created_at.date().isoformat(),
                **({"shard": t.shard} if sharded else {}),
            }
            for t in tenants
        ]
        if opts.get("json"):
            self.stdout.write(json.dumps(rows, indent=2))
            return
        out = getattr(self.stdout, "_out", sys.stdout)
        console = Console(file=out, highlight=False)
        pipe = not console.is_terminal
        if pipe:  # never wrap, no colour, no trailing blanks: easy to read with grep, cut or awk
            console = Console(file=io.StringIO(), highlight=False, width=10_000, no_color=True)
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
        for column in columns:
            table.add_column(column.upper(), justify="right" if column == "members" else "left", no_wrap=True)
        for row in rows:
            table.add_row(*(Text(str(row[c])) for c in columns))
        console.print(table)
        if pipe:
            self.stdout.write("\n".join(line.rstrip() for line in console.file.getvalue().splitlines()))  # type: ignore[attr-defined]
        by_status: dict[str, int] = {}
        for row in rows:
            by_status[row["status"]] = by_status.get(row["status"], 0) + 1
        counts = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
        self.stdout.write(f"{len(rows)} organization(s){': ' + counts if counts else ''}")

    def _lifecycle(self, action: str, tenant: Tenant) -> None:
        from shared_apps.operators.services import organization_lifecycle_change

        before = tenant.status
        tenant = organization_lifecycle_change(tenant=tenant, action=action, via="cli", operator_name=_operator_name())
        note = "" if tenant.status != before else " (unchanged)"
        self.stdout.write(self.style.SUCCESS(f"{tenant.slug}: {tenant.status}{note}"))

    def _purge_expired(self, opts: dict[str, Any]) -> None:
        with command_progress(self, "purging", options=opts) as bar:
            purged = services.tenant_purge_expired(on_planned=bar.planned, on_step=bar.step)
        self.stdout.write(f"purged {len(purged)}: {', '.join(purged) or '-'}")

    def _export(self, tenant: Tenant, opts: dict[str, Any]) -> None:
        with command_progress(self, f"exporting {tenant.slug}", options=opts) as bar:
            export = services.tenant_export(tenant=tenant, on_planned=bar.planned, on_step=bar.step)
        payload = json.dumps(export, indent=2, default=str)
        rows = sum(len(table) for table in export["data"].values())
        summary = f"{tenant.slug}: {len(export['members'])} member(s), {len(export['data'])} table(s), {rows} row(s)"
        if opts["output"] == "-":
            self.stdout.write(payload)
            self.stderr.write(summary)  # standard output holds the JSON only
        else:
            with open(opts["output"], "w") as fh:
                fh.write(payload)
            self.stdout.write(self.style.SUCCESS(f"wrote {opts['output']}: {summary}"))
