"""Online move of one organization's schema to another shard (`manage.py tenant move`).

Steps, each recorded in the TenantMove row so that a move can be resumed or aborted at any point
(docs/scaling.md has the procedure and its failure cases; decisions D133-D136):

1. schema: the schema is made on the target (copied from an up-to-date schema there, or migrated:
   tenants.services.schema_create_ready), then emptied: replication brings every row, including
   the migration history and content types.
2. copying: a publication of the schema's tables on the source (`FOR TABLES IN SCHEMA`), a
   subscription on the target that copies them and then follows every change; wait until every
   table is copied and the lag is small.
3. paused: the organization's writes are paused (the routing row's `writes_paused_at`: writes get
   503 + Retry-After, reads go on, on the source); after every process has seen it, the source's
   tables are locked against writes (SHARE ROW EXCLUSIVE: reads go on), the target catches up, and
   each table is compared (row count and a checksum of every row). Sequences are set past the
   source's values, the subscription is dropped.
4. flipped: the routing row points at the target, writes resume there, and the source tables get a
   trigger that refuses any write (a write that was waiting on the lock fails cleanly, 503, instead
   of landing in the old copy). The source schema is kept for TENANT_MOVE_RETENTION_HOURS.
5. done. `tenant_move_drop_sources` drops kept source schemas whose retention has passed.

Abort (any step before flipped) drops the subscription, the publication and the target schema and
resumes writes: the organization stays where it was, serving.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from psycopg import sql

from tenants.models import Tenant, TenantMove
from tenants.moves_gate import pause_in_effect
from tenants.routing import shard_activate, shard_aliases
from tenants.shard_config import DEFAULT_SHARD
from tenants.shards import schema_detach_global_references, shard_raw_connection, subscription_exists

logger = logging.getLogger(__name__)

State = TenantMove.State
Progress = Callable[[str, str], None]  # (step, detail)

REFUSE_FUNCTION = "tenantry_moved_away"


class MoveFailed(RuntimeError):
    pass


def _name(move: TenantMove) -> str:
    # Replication slot names are cluster-wide: the id and the schema keep them apart.
    return f"tm_{move.pk}_{move.schema_name}"[:63]


def _say(progress: Progress | None, step: str, detail: str) -> None:
    logger.debug("move %s: %s", step, detail)
    if progress is not None:
        progress(step, detail)


def _tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' ORDER BY 1",
        [schema],
    ).fetchall()
    return [r[0] for r in rows]


def _schema_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone() is not None


def _fingerprint(conn: psycopg.Connection[Any], schema: str, table: str) -> tuple[int, str]:
    """(rows, checksum): the row count and the sum of every row's 64-bit hash (PostgreSQL's
    `hash_record_extended`, the hash that hash partitioning relies on staying stable). Order does not
    matter, so there is no sort and no long string to build: about a quarter of the time of an
    ordered md5 over 100,000 rows, and this runs while the organization's writes wait (D142). A table
    with a column type that has no hash function falls back to the md5 of every row in key order."""
    table_sql = sql.Identifier(schema, table)
    try:
        row = conn.execute(
            sql.SQL("SELECT count(*), coalesce(sum(hash_record_extended(t, 0)), 0)::text FROM {} AS t").format(
                table_sql
            )
        ).fetchone()
    except (psycopg.errors.UndefinedFunction, psycopg.errors.FeatureNotSupported):
        if not conn.autocommit:
            raise
        key = conn.execute(
            """
            SELECT a.attname FROM pg_index i
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum
            """,
            [f'"{schema}"."{table}"'],
        ).fetchall()
        order = sql.SQL(", ").join(sql.Identifier(k[0]) for k in key) if key else sql.SQL("t::text")
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), 'md5:' || coalesce(md5(string_agg(md5(t::text), '' ORDER BY {})), '') FROM {} AS t"
            ).format(order, table_sql)
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def _counts(conn: psycopg.Connection[Any], schema: str, tables: list[str]) -> list[int]:
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, count(*) FROM {}").format(sql.Literal(t), sql.Identifier(schema, t)) for t in tables
    )
    return [int(r[1]) for r in conn.execute(sql.SQL("SELECT * FROM ({}) AS c ORDER BY 1").format(query)).fetchall()]


def _fingerprints_both(
    move: TenantMove, tables: list[str]
) -> tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]]]:
    """Every table's fingerprint on the source and on the target, computed side by side (new
    connections: on the source, a new snapshot sees the same frozen rows as the locking one)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(alias: str) -> dict[str, tuple[int, str]]:
        with shard_raw_connection(alias) as conn:
            return {t: _fingerprint(conn, move.schema_name, t) for t in tables}

    with ThreadPoolExecutor(max_workers=2) as pool:
        source, target = pool.map(one, (move.source, move.target))
    return source, target


# --- Entry points ------------------------------------------------------------------------------------


def tenant_move_active(*, tenant: Tenant) -> TenantMove | None:
    return TenantMove.objects.filter(tenant=tenant, state__in=TenantMove.ACTIVE_STATES).first()


def tenant_move(
    *,
    tenant: Tenant,
    target: str,
    progress: Progress | None = None,
    max_lag_bytes: int = 8 * 1024 * 1024,
    copy_timeout: float = 3600.0,
    catchup_timeout: float = 10.0,
) -> TenantMove:
    """Move `tenant` to shard `target` while it keeps serving (or resume its unfinished move)."""
    tenant = Tenant.objects.get(pk=tenant.pk)
    if target not in shard_aliases():
        raise ValidationError(f"No shard {target!r} is configured.", code="unknown_shard")
    move = tenant_move_active(tenant=tenant)
    if move is None:
        if tenant.shard == target:
            raise ValidationError(f"{tenant.slug} is already on {target}.", code="already_there")
        move = TenantMove.objects.create(
            tenant=tenant, schema_name=tenant.schema_name, source=tenant.shard, target=target
        )
        _say(progress, "start", f"{tenant.slug}: {move.source} -> {target} (move {move.pk})")
    elif move.target != target:
        raise ValidationError(
            f"Move {move.pk} of {tenant.slug} to {move.target} is unfinished: resume or abort it first.",
            code="move_in_progress",
        )
    else:
        _say(progress, "resume", f"move {move.pk} from step {move.state}")
    try:
        if move.state == State.SCHEMA:
            _step_schema(move, progress)
        if move.state == State.COPYING:
            _step_copy(move, progress, max_lag_bytes=max_lag_bytes, timeout=copy_timeout)
            _step_final(move, progress, timeout=catchup_timeout)
        elif move.state == State.PAUSED:
            # Interrupted during the pause: the routing row still points at the source. Go again.
            _step_final(move, progress, timeout=catchup_timeout)
        if move.state == State.FLIPPED:
            _step_finish(move, progress)
    except BaseException as exc:
        _resume_writes(move)
        if move.state == State.PAUSED:
            move.state = State.COPYING
        move.error = f"{type(exc).__name__}: {exc}"[:4000]
        move.save(update_fields=["state", "error", "updated_at"])
        raise
    return move


def tenant_move_abort(*, tenant: Tenant, progress: Progress | None = None) -> TenantMove:
    """Undo an unfinished move: the organization stays on its source shard, serving."""
    move = tenant_move_active(tenant=tenant)
    if move is None:
        raise ValidationError(f"{tenant.slug} has no unfinished move.", code="no_move")
    if move.state == State.FLIPPED:
        raise ValidationError(
            "The organization already serves from the target; finish the move (run it again) instead.",
            code="move_flipped",
        )
    _resume_writes(move)
    _drop_replication(move)
    with shard_raw_connection(move.target) as target:
        if _schema_exists(target, move.schema_name):
            target.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(move.schema_name)))
    move.state = State.ABORTED
    move.finished_at = timezone.now()
    move.save(update_fields=["state", "finished_at", "updated_at"])
    _say(progress, "aborted", f"{tenant.slug} stays on {move.source}")
    return move


def tenant_move_drop_sources(*, now: dt.datetime | None = None) -> list[str]:
    """Drop the source schemas of finished moves whose retention has passed."""
    now = now or timezone.now()
    dropped = []
    for move in TenantMove.objects.filter(
        state=State.DONE, source_dropped_at__isnull=True, source_drop_after__lte=now
    ).select_related("tenant"):
        if move.tenant.shard == move.source:  # moved back since: that schema is the live one again
            move.source_dropped_at = now
            move.save(update_fields=["source_dropped_at", "updated_at"])
            continue
        with shard_raw_connection(move.source) as source:
            source.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(move.schema_name)))
        move.source_dropped_at = now
        move.save(update_fields=["source_dropped_at", "updated_at"])
        dropped.append(f"{move.schema_name}@{move.source}")
    return dropped


def tenant_move_wait_unpaused(*, tenant_id: int, timeout: float | None = None) -> str | None:
    """For workers: wait while the organization's writes are paused by a move; returns its shard
    (read fresh: a move may just have changed it), or None if it is gone."""
    deadline = time.monotonic() + (settings.TENANT_MOVE_TASK_WAIT_SECONDS if timeout is None else timeout)
    while True:
        row = Tenant.objects.filter(pk=tenant_id).values_list("shard", "writes_paused_at").first()
        if row is None:
            return None
        shard, paused = row
        if not pause_in_effect(paused) or time.monotonic() >= deadline:
            return str(shard)
        time.sleep(0.1)


# --- Steps ---------------------------------------------------------------------------------------------


def _set_state(move: TenantMove, state: str, **fields: Any) -> None:
    move.state = state
    for key, value in fields.items():
        setattr(move, key, value)
    move.save(update_fields=["state", "updated_at", *fields])


def _step_schema(move: TenantMove, progress: Progress | None) -> None:
    from tenants.services import schema_create_ready

    stale = TenantMove.objects.filter(
        schema_name=move.schema_name, source=move.target, state=State.DONE, source_dropped_at__isnull=True
    )
    for earlier in stale:
        # Processes may read a copy they still route to until they recheck their cached routing row
        # (at most TENANT_RESOLUTION_FALLBACK_SECONDS while Valkey is away): let that pass first.
        assert earlier.finished_at is not None
        safe = earlier.finished_at + dt.timedelta(seconds=settings.TENANT_RESOLUTION_FALLBACK_SECONDS + 1)
        wait = (safe - timezone.now()).total_seconds()
        if wait > 0:
            _say(progress, "schema", f"waiting {wait:.1f} s until no process can still read the old copy")
            time.sleep(wait)
    with shard_raw_connection(move.target) as target:
        if stale.exists():
            # The copy an earlier move left behind there (kept for its retention): outdated now.
            target.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(move.schema_name)))
            stale.update(source_dropped_at=timezone.now())
        exists = _schema_exists(target, move.schema_name)
    if not exists:
        _say(progress, "schema", f"creating {move.schema_name} on {move.target}")
        with shard_activate(move.target):
            schema_create_ready(schema_name=move.schema_name)
            if move.target != DEFAULT_SHARD:
                schema_detach_global_references(schema_name=move.schema_name)
    with shard_raw_connection(move.source) as source, shard_raw_connection(move.target) as target:
        source_tables, target_tables = _tables(source, move.schema_name), _tables(target, move.schema_name)
        if source_tables != target_tables:
            raise MoveFailed(
                f"the tables differ between {move.source} and {move.target}: migrate both first "
                f"(only on the source: {sorted(set(source_tables) - set(target_tables))}, "
                f"only on the target: {sorted(set(target_tables) - set(source_tables))})"
            )
        # Replication copies every row, the migration history and content types included.
        target.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier(move.schema_name, t) for t in target_tables)
            )
        )
    _set_state(move, State.COPYING)


def _step_copy(move: TenantMove, progress: Progress | None, *, max_lag_bytes: int, timeout: float) -> None:
    name = _name(move)
    with shard_raw_connection(move.source) as source:
        if not source.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [name]).fetchone():
            source.execute(
                sql.SQL("CREATE PUBLICATION {} FOR TABLES IN SCHEMA {}").format(
                    sql.Identifier(name), sql.Identifier(move.schema_name)
                )
            )
    from tenants.shards import shard_conninfo

    with shard_raw_connection(move.target) as target:
        if not subscription_exists(target, name):
            _say(progress, "copy", f"subscribing {move.target} to {move.source}")
            target.execute(
                sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {}").format(
                    sql.Identifier(name), sql.Literal(shard_conninfo(move.source)), sql.Identifier(name)
                )
            )
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            row = target.execute(
                """
                SELECT count(*), count(*) FILTER (WHERE r.srsubstate = 'r')
                  FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
                 WHERE s.subname = %s AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                """,
                [name],
            ).fetchone()
            total, ready = row or (0, 0)
            detail = f"{ready}/{total} tables copied"
            if detail != last:
                _say(progress, "copy", detail)
                last = detail
            if total and ready == total:
                break
            if time.monotonic() > deadline:
                raise MoveFailed(f"the initial copy did not finish within {timeout:.0f} s ({detail})")
            time.sleep(0.2)
    with shard_raw_connection(move.source) as source:
        deadline = time.monotonic() + timeout
        while True:
            row = source.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) FROM pg_replication_slots "
                "WHERE slot_name = %s",
                [name],
            ).fetchone()
            lag = int(row[0]) if row and row[0] is not None else None
            if lag is not None and lag <= max_lag_bytes:
                _say(progress, "follow", f"lag {lag} bytes")
                break
            if time.monotonic() > deadline:
                raise MoveFailed(f"replication lag stayed above {max_lag_bytes} bytes ({lag})")
            time.sleep(0.2)


def _pause_writes(move: TenantMove) -> None:
    from tenants.resolution import resolution_cache_invalidate

    Tenant.objects.filter(pk=move.tenant_id).update(writes_paused_at=timezone.now())
    resolution_cache_invalidate()


def _resume_writes(move: TenantMove) -> None:
    from tenants.resolution import resolution_cache_invalidate

    if Tenant.objects.filter(pk=move.tenant_id, writes_paused_at__isnull=False).update(writes_paused_at=None):
        resolution_cache_invalidate()


def _step_final(move: TenantMove, progress: Progress | None, *, timeout: float) -> None:
    from tenants.resolution import resolution_cache_invalidate

    schema = move.schema_name
    _set_state(move, State.PAUSED)
    _pause_writes(move)
    started = time.monotonic()
    _say(progress, "pause", "writes paused (503 + Retry-After); reads go on")
    # Processes that have not seen the pause yet (they recheck within TENANT_RESOLUTION_RECHECK_SECONDS)
    # may still send writes: those wait on the lock below and then fail with the same 503.
    if settings.TENANT_MOVE_PAUSE_PROPAGATION_SECONDS > 0:
        time.sleep(settings.TENANT_MOVE_PAUSE_PROPAGATION_SECONDS)
    with shard_raw_connection(move.source) as source, shard_raw_connection(move.target) as target:
        source.autocommit = False
        tables = _tables(source, schema)
        _lock_tables(source, schema, tables)
        counts = _counts(source, schema, tables)
        deadline = time.monotonic() + timeout
        while True:
            # Row counts first (cheap), then every row's checksum on both sides at once.
            if _counts(target, schema, tables) == counts:
                expected, got = _fingerprints_both(move, tables)
                if got == expected:
                    break
            if time.monotonic() > deadline:
                source.rollback()
                raise MoveFailed(f"the target did not catch up within {timeout:.0f} s")
            time.sleep(0.02)
        _say(progress, "verify", f"{len(tables)} tables equal ({sum(r for r, _ in expected.values())} rows)")
        for seq, value in source.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %s AND last_value IS NOT NULL",
            [schema],
        ).fetchall():
            target.execute("SELECT setval(%s, %s)", [f'"{schema}"."{seq}"', value])
        target.execute(sql.SQL("DROP SUBSCRIPTION IF EXISTS {}").format(sql.Identifier(_name(move))))
        # Writes that waited on the lock fail from here on instead of landing in the old copy.
        source.execute(
            sql.SQL(
                "CREATE OR REPLACE FUNCTION public.{}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION '{}: this organization moved to another shard' USING ERRCODE = 'TM001'; END $$"
            ).format(sql.Identifier(REFUSE_FUNCTION), sql.SQL(REFUSE_FUNCTION))
        )
        for table in tables:
            source.execute(
                sql.SQL(
                    "CREATE TRIGGER {} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION public.{}()"
                ).format(
                    sql.Identifier(REFUSE_FUNCTION), sql.Identifier(schema, table), sql.Identifier(REFUSE_FUNCTION)
                )
            )
        with transaction.atomic():
            Tenant.objects.filter(pk=move.tenant_id).update(shard=move.target, writes_paused_at=None)
            move.state = State.FLIPPED
            move.tables = {t: {"rows": r, "checksum": c} for t, (r, c) in expected.items()}
            move.paused_seconds = time.monotonic() - started
            move.save(update_fields=["state", "tables", "paused_seconds", "updated_at"])
        source.commit()
    resolution_cache_invalidate()
    _say(progress, "flip", f"serving from {move.target}; writes were paused {move.paused_seconds:.2f} s")


def _lock_tables(source: psycopg.Connection[Any], schema: str, tables: list[str], *, budget: float = 5.0) -> None:
    """Lock every table against writes (readers go on). The tables are locked one after the other,
    so a write transaction that holds one and wants another would deadlock with us: each attempt
    gives up after a short lock_timeout, lets go of what it holds (the writer finishes; new writes
    are refused at the gate meanwhile) and tries again, for `budget` seconds in all."""
    qualified = sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables)
    deadline = time.monotonic() + budget
    while True:
        try:
            source.execute("SET LOCAL lock_timeout = '200ms'")
            source.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(qualified))
            return
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            source.rollback()
            if time.monotonic() > deadline:
                raise MoveFailed(f"could not lock the tables against writes within {budget:.0f} s") from None
            time.sleep(0.02)


def _drop_replication(move: TenantMove) -> None:
    name = _name(move)
    with shard_raw_connection(move.target) as target:
        target.execute(sql.SQL("DROP SUBSCRIPTION IF EXISTS {}").format(sql.Identifier(name)))
    with shard_raw_connection(move.source) as source:
        source.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(name)))


def _step_finish(move: TenantMove, progress: Progress | None) -> None:
    _drop_replication(move)
    now = timezone.now()
    _set_state(
        move,
        State.DONE,
        finished_at=now,
        source_drop_after=now + dt.timedelta(hours=settings.TENANT_MOVE_RETENTION_HOURS),
    )
    _say(progress, "done", f"source schema kept on {move.source} until {move.source_drop_after:%Y-%m-%d %H:%M} UTC")
