"""`manage.py tenant move|moves|moves-cleanup|shards|shard-bootstrap|shard-check` (see tenant.py)."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from tenants.models import Tenant, TenantMove


def _console(command: BaseCommand) -> Console:
    stream: Any = getattr(command.stdout, "_out", command.stdout)
    console = Console(file=stream, highlight=False, soft_wrap=True)
    if not console.is_terminal:  # pipes and logs: no wrapping or cut columns, no colour
        console = Console(file=stream, highlight=False, soft_wrap=True, width=10_000, no_color=True)
    return console


def run_move(command: BaseCommand, tenant: Tenant, opts: dict[str, Any], *, operator_name: str) -> None:
    from tenants.moves import tenant_move, tenant_move_abort

    console = _console(command)
    started = time.monotonic()

    def progress(step: str, detail: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:7.2f}s[/] [bold]{step:<7}[/] {detail}")

    if opts.get("abort"):
        move = tenant_move_abort(tenant=tenant, progress=progress)
        _audit(tenant, "organization.move_aborted", move, operator_name)
        return
    if not opts.get("to"):
        raise CommandError("--to <shard> is required (or --abort)")
    try:
        move = tenant_move(tenant=tenant, target=opts["to"], progress=progress, catchup_timeout=opts["catchup_timeout"])
    except ValidationError:
        raise
    except Exception as exc:
        raise CommandError(
            f"move of {tenant.slug} stopped: {exc}. The organization still serves from where it was; "
            f"run the same command again to resume, or `tenant move {tenant.slug} --abort`."
        ) from exc
    _audit(Tenant.objects.get(pk=tenant.pk), "organization.moved", move, operator_name)
    rows = sum(t["rows"] for t in move.tables.values())
    command.stdout.write(
        command.style.SUCCESS(
            f"{tenant.slug}: moved {move.source} -> {move.target}, {len(move.tables)} tables, {rows} rows verified, "
            f"writes paused {move.paused_seconds or 0:.2f} s, total {time.monotonic() - started:.1f} s"
        )
    )


def _audit(tenant: Tenant, action: str, move: TenantMove, operator_name: str) -> None:
    from django.db import transaction

    from tenant_apps.audit.services import audit_event_record
    from tenants.base.actor import Actor
    from tenants.routing import tenant_write_context

    with transaction.atomic(), tenant_write_context(tenant):
        audit_event_record(
            actor=Actor(user=None),
            action=action,
            target_type="organization",
            target_id=tenant.pk,
            data={
                "from": move.source,
                "to": move.target,
                "move": move.pk,
                "paused_seconds": move.paused_seconds,
                "via": "cli",
                "operator": operator_name,
            },
        )


def run_shard_action(command: BaseCommand, action: str, opts: dict[str, Any]) -> None:
    from tenants import shards
    from tenants.moves import tenant_move_drop_sources
    from tenants.routing import shard_aliases

    console = _console(command)
    if action == "moves":
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
        for column in ("ID", "ORGANIZATION", "FROM", "TO", "STATE", "PAUSED S", "STARTED", "SOURCE DROPPED"):
            table.add_column(column, no_wrap=True)
        for m in TenantMove.objects.select_related("tenant")[:50]:
            table.add_row(
                str(m.pk),
                m.tenant.slug,
                m.source,
                m.target,
                m.state,
                f"{m.paused_seconds:.2f}" if m.paused_seconds is not None else "-",
                f"{m.started_at:%Y-%m-%d %H:%M}",
                f"{m.source_dropped_at:%Y-%m-%d %H:%M}" if m.source_dropped_at else "-",
            )
        console.print(table)
    elif action == "moves-cleanup":
        dropped = tenant_move_drop_sources()
        command.stdout.write(f"dropped {len(dropped)} old schema(s): {', '.join(dropped) or '-'}")
    elif action == "shards":
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
        for column in ("SHARD", "ORGANIZATIONS", "SPARES", "SIZE MB", "WEIGHT", "LOAD", "USERS COPY LAG"):
            table.add_column(column, no_wrap=True, justify="left" if column == "SHARD" else "right")
        for load in shards.shard_loads():
            lag = "-" if load.shard == "default" else _lag(shards, load.shard)
            size = f"{load.size_bytes / 1e6:.0f}" if load.size_bytes is not None else "unreachable"
            table.add_row(
                load.shard,
                str(load.organizations),
                str(load.spare_schemas),
                size,
                f"{load.weight:g}",
                f"{load.load:.2f}",
                lag,
            )
        console.print(table)
        command.stdout.write(f"new organizations go to: {shards.shard_for_new_tenant()}")
    elif action == "shard-bootstrap":
        if opts["shard"] not in shard_aliases()[1:]:
            raise CommandError(f"{opts['shard']!r} is not in TENANT_SHARDS")
        shards.shard_bootstrap(alias=opts["shard"])
        command.stdout.write(command.style.SUCCESS(f"{opts['shard']}: public tables migrated, users copy subscribed"))
    elif action == "shard-check":
        found = shards.shard_references_check(alias=opts["shard"], fix=opts["fix"])
        for ref in found:
            command.stdout.write(
                f"{ref.schema_name}.{ref.table}.{ref.column}: {len(ref.user_ids)} missing user(s) {ref.user_ids[:10]}"
            )
        verb = "fixed" if opts["fix"] else "found"
        command.stdout.write(f"{opts['shard']}: {verb} {len(found)} column(s) with references to missing users")


def _lag(shards: Any, alias: str) -> str:
    try:
        lag = shards.shard_replication_lag(alias=alias)
    except Exception:
        return "unreachable"
    return "no subscription" if lag is None else f"{lag} B"
