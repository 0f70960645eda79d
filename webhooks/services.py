"""Inbox writes: store a verified event (deduplicated), process it under a row lock, replay."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from tenants.base import jsonlimits
from tenants.base.observability import metric_incr
from webhooks import stages
from webhooks.models import FINAL_STATUSES, EventStatus, WebhookEvent

_SHOWN_PATHS = 10
EVENT_ID_MAX_LENGTH = 255
EVENT_TYPE_MAX_LENGTH = 120

logger = logging.getLogger(__name__)

# A Stripe event nests under 10 levels (metadata is flat); anything deeper is not one Stripe sent as is.
WEBHOOK_MAX_DEPTH = 32


class InvalidEventError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IngestResult:
    event: WebhookEvent
    created: bool


# Where a handler reads the stored payload (everything else is re-fetched from Stripe): text there that
# PostgreSQL cannot store would be changed by sanitising, so such an event is parked, not processed.
ROUTING_FIELDS = (
    "id",
    "type",
    "created",
    "livemode",
    "api_version",
    "data.object.id",
    "data.object.object",
    "data.object.customer",
    "data.object.subscription",
)


@dataclass(frozen=True)
class ParsedEvent:
    """A verified body, parsed with bounded depth. `payload` is always storable in jsonb; `problems`
    says what had to be cut or replaced to make it so, and `parked` whether it may still be processed."""

    payload: dict[str, Any]
    problems: tuple[str, ...] = ()
    parked: bool = False


_MAYBE_UNSTORABLE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _is_routing(path: str) -> bool:
    return any(path == f or path.startswith((f"{f}.", f"{f}[")) for f in ROUTING_FIELDS)


def parse_event(body: bytes) -> ParsedEvent:
    """Parse a verified body without ever raising anything but InvalidEventError.

    Not UTF-8, not JSON, not an object, or no usable id/type: InvalidEventError (a 400: there is
    nothing to store it under). Nested deeper than WEBHOOK_MAX_DEPTH: the deeper parts become null in
    the payload (the raw body keeps them) and the event is parked. U+0000 or an unpaired surrogate in a
    string: replaced by U+FFFD in the payload; parked only if it sits where a handler reads."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEventError("invalid_json", "The body is not valid JSON.") from exc
    if "\x00" in text:  # a raw NUL is never valid JSON, and a text column cannot hold it
        raise InvalidEventError("invalid_json", "The body is not valid JSON.")
    problems: list[str] = []
    parked = False
    try:
        try:
            raw = jsonlimits.loads_bounded(text, max_depth=WEBHOOK_MAX_DEPTH)
        except jsonlimits.JSONTooDeepError:
            pruned, cut = jsonlimits.prune_deep(text, max_depth=WEBHOOK_MAX_DEPTH)
            raw = jsonlimits.loads_bounded(pruned, max_depth=WEBHOOK_MAX_DEPTH)
            problems.append(f"nested deeper than {WEBHOOK_MAX_DEPTH} levels: {cut} part(s) not parsed, null in payload")
            parked = True
    except ValueError as exc:
        raise InvalidEventError("invalid_json", "The body is not valid JSON.") from exc
    if not isinstance(raw, dict):
        raise InvalidEventError("invalid_event", "The body is not a Stripe event.")
    # Only a \u0000 or surrogate escape can put such text in a parsed body (a raw NUL was refused above,
    # and UTF-8 cannot carry a lone surrogate), so the walk over the whole payload runs only then.
    bad_paths = jsonlimits.unstorable_paths(raw) if _MAYBE_UNSTORABLE.search(text) else []
    if bad_paths:
        shown = ", ".join(path[:120] for path in bad_paths[:_SHOWN_PATHS])
        if len(bad_paths) > _SHOWN_PATHS:
            shown += f" and {len(bad_paths) - _SHOWN_PATHS} more"
        problems.append(f"U+0000 or unpaired surrogate replaced by U+FFFD in payload at: {shown}")
        parked = parked or any(_is_routing(path) for path in bad_paths)
    payload: dict[str, Any] = jsonlimits.jsonb_safe(raw) if bad_paths else raw
    event_id, event_type = payload.get("id"), payload.get("type")
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(event_id) > EVENT_ID_MAX_LENGTH:
        raise InvalidEventError("invalid_event", "The event has no valid id.")
    if not isinstance(event_type, str) or not event_type or len(event_type) > EVENT_TYPE_MAX_LENGTH:
        raise InvalidEventError("invalid_event", "The event has no valid type.")
    if not isinstance(payload.get("data", {}), dict):
        raise InvalidEventError("invalid_event", "The event data is malformed.")
    return ParsedEvent(payload=payload, problems=tuple(problems), parked=parked)


def _created(payload: dict[str, Any]) -> dt.datetime | None:
    value = payload.get("created")
    if isinstance(value, int) and 0 < value < 10**11:
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return None


def group_key(payload: dict[str, Any]) -> str:
    """The Stripe customer an event is about: `data.object.customer` (an id or an expanded object), or
    the object itself when it is a customer. Events with the same key are applied together (D110)."""
    obj = (payload.get("data") or {}).get("object")
    if not isinstance(obj, dict):
        return ""
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if not customer and obj.get("object") == "customer":
        customer = obj.get("id")
    return customer[:255] if isinstance(customer, str) else ""


# One statement, one round trip, new or duplicate (an IntegrityError would cost a rollback, a server log
# line and a second query): (id, status, inserted). The payload is the raw body, parsed by PostgreSQL,
# unless parse_event had to change it (then the sanitised copy, as JSON text).
_INSERT_SQL = """
WITH inserted AS (
    INSERT INTO webhooks_webhookevent (stripe_event_id, type, livemode, api_version, stripe_created, body,
        payload, parse_note, status, attempts, last_error, group_key, received_at, enqueued_at, updated_at)
    VALUES (%(id)s, %(type)s, %(livemode)s, %(api_version)s, %(created)s, %(body)s, %(payload)s::jsonb,
        %(note)s, %(status)s, 0, '', %(group_key)s, %(now)s, %(enqueued_at)s, %(now)s)
    ON CONFLICT (stripe_event_id) DO NOTHING
    RETURNING id, status
)
SELECT id, status, true FROM inserted
UNION ALL
SELECT id, status, false FROM webhooks_webhookevent
WHERE stripe_event_id = %(id)s AND NOT EXISTS (SELECT 1 FROM inserted)
"""


def _insert(params: dict[str, Any]) -> tuple[Any, ...] | None:
    """Run _INSERT_SQL. On the request path (autocommit) Django's per-request connection health check
    (a `SELECT 1` round trip before the first query) is skipped: if the kept connection turns out dead,
    the statement, which is idempotent, runs once more on a new one (D113)."""
    from django.db import connection

    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_SQL, params)
            return cursor.fetchone()
    if connection.connection is not None and connection.health_check_enabled:  # type: ignore[attr-defined]
        connection.health_check_done = True  # type: ignore[attr-defined]
    try:
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_SQL, params)
            return cursor.fetchone()
    except DATABASE_UNAVAILABLE:
        if connection.is_usable():
            raise  # not a dead connection: the database refused (or is down); a 500, Stripe retries
        connection.close()
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, params)
        return cursor.fetchone()


def webhook_event_ingest(*, body: bytes, event: ParsedEvent) -> IngestResult:
    """Store the event once (unique on the Stripe id) and get it applied: one INSERT (autocommit on the
    request path), then, after commit, a kick of the drain (`webhook_drain_kick`: one Valkey command,
    plus a message only if no drain is already queued). `enqueued_at` is stamped with the row, as the
    time of the enqueue attempt; a failed kick clears it, and the sweeper picks the row up.

    A parked event (see parse_event) is stored with status `parked` and not enqueued; an event whose
    payload had to be sanitised outside the routing fields is processed as usual. Either way the
    problems are kept in `parse_note`, logged and counted (`tenantry_webhook_intake_problems_total`)."""
    payload = event.payload
    text = body.decode("utf-8")  # parse_event checked: UTF-8 without NUL, so byte-exact as text
    now = timezone.now()
    status = EventStatus.PARKED if event.parked else EventStatus.PENDING
    params = {
        "id": payload["id"],
        "type": payload["type"],
        "livemode": bool(payload.get("livemode")),
        "api_version": str(payload.get("api_version") or "")[:64],
        "created": _created(payload),
        "body": text,
        "payload": json.dumps(payload) if event.problems else text,
        "note": "; ".join(event.problems)[:2000],
        "status": status,
        "group_key": group_key(payload),
        "now": now,
        "enqueued_at": None if event.parked else now,
    }
    with stages.stage("insert"):
        found = _insert(params)
    if found is None:  # a duplicate committed after this statement's snapshot was taken: read it now
        found = (*WebhookEvent.objects.filter(stripe_event_id=payload["id"]).values_list("pk", "status").get(), False)
    row = WebhookEvent(
        pk=found[0],
        stripe_event_id=payload["id"],
        type=payload["type"],
        status=found[1],
        parse_note=params["note"],
        received_at=now,
        enqueued_at=params["enqueued_at"],
    )
    if not found[2]:
        return IngestResult(row, created=False)
    if event.problems:
        _report_intake_problem(row=row)
    if not event.parked:
        transaction.on_commit(lambda: _kick_after_ingest(event_id=row.pk))
    return IngestResult(row, created=True)


def _kick_after_ingest(*, event_id: int) -> None:
    with stages.stage("enqueue"):
        if not webhook_drain_kick():
            WebhookEvent.objects.filter(pk=event_id, status=EventStatus.PENDING).update(enqueued_at=None)


def _report_intake_problem(*, row: WebhookEvent) -> None:
    """The alert for a body stored in a form other than as sent: an error log line when parked, a
    warning when only sanitised, and a counter either way (label: the outcome)."""
    if row.status == EventStatus.PARKED:
        logger.error(
            "webhook %s (%s) parked, not processed: %s",
            row.stripe_event_id,
            row.type,
            row.parse_note,
            extra={"webhook_event_id": str(row.pk)},
        )
        metric_incr("webhook_intake_problems", "parked")
    else:
        logger.warning(
            "webhook %s (%s) stored with a sanitised payload, processing as usual: %s",
            row.stripe_event_id,
            row.type,
            row.parse_note,
            extra={"webhook_event_id": str(row.pk)},
        )
        metric_incr("webhook_intake_problems", "sanitised")


# --- The drain: pending events applied in batches, per customer (D110, D112) -------------------------

# Set (NX) by whoever sends a drain message, deleted by the drain when it starts looking for events: while
# it exists a drain is queued that will see every event stored before it starts, so an ingest finding
# it set sends nothing. It expires by itself, so a message lost with it costs at most DRAIN_FLAG_MS.
# Celery task names, declared here and used by webhooks/tasks.py: the service enqueues by name through
# Celery's registry, so services and their task entry points do not import each other (D87).
DRAIN_TASK = "webhooks.drain"
DRAIN_FLAG = "tenantry:webhooks:drain-queued"
DRAIN_FLAG_MS = 2000
_flag_clients: dict[str, Any] = {}


def _flag_client() -> Any:
    """A redis client on the broker (the flag and the message live and die together), or None when the
    broker is not Valkey/Redis (then every ingest sends a message)."""
    app = current_app  # the project's Celery app (config/celery.py), without importing the config package
    url = str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    client = _flag_clients.get(url)
    if client is None:
        import redis

        options = app.conf.broker_transport_options or {}
        client = redis.Redis.from_url(
            url,
            socket_timeout=float(options.get("socket_timeout", 2.0)),
            socket_connect_timeout=float(options.get("socket_connect_timeout", 1.0)),
        )
        _flag_clients[url] = client
    return client


def webhook_drain_kick(*, force: bool = False, countdown: float | None = None) -> bool:
    """Make sure a drain (webhooks.drain) will run after this: send one unless one is already queued
    (see DRAIN_FLAG); `force` or a `countdown` always sends. False if the broker is unreachable (logged,
    not raised: the rows stay pending and the sweeper re-sends them)."""
    drain = current_app.tasks[DRAIN_TASK]
    try:
        client = None if (force or countdown) else _flag_client()
        if client is not None and not client.set(DRAIN_FLAG, b"1", nx=True, px=DRAIN_FLAG_MS):
            return True  # a queued drain will see the event
        stages.add("publish", 0)  # how many kicks sent a message (their CPU is in `enqueue`)
        drain.apply_async(
            kwargs={"kicked_at": time.time()},
            countdown=countdown,
            retry_policy={"max_retries": 2, "interval_start": 0.1},
        )
    except Exception:
        logger.warning("could not send a webhook drain; the sweeper will retry", exc_info=True)
        with contextlib.suppress(Exception):
            if client is not None:
                client.delete(DRAIN_FLAG)
        return False
    return True


def webhook_event_enqueue(*, event_id: int, countdown: float | None = None, stamped: bool = False) -> bool:
    """Get one event applied (replay, tests): stamp `enqueued_at` (unless `stamped`) and send a drain.
    A broker outage is logged, not raised: the row stays pending (its `enqueued_at` cleared) and the
    sweeper re-sends it."""
    if not stamped:
        WebhookEvent.objects.filter(pk=event_id).update(enqueued_at=timezone.now())
    if webhook_drain_kick(force=True, countdown=countdown):
        return True
    WebhookEvent.objects.filter(pk=event_id, status=EventStatus.PENDING).update(enqueued_at=None)
    return False


# The claim: every pending, due event of the customer of the oldest one not locked by another drain,
# locked (SKIP LOCKED) in this transaction. One round trip; the partial index keeps it cheap.
_CLAIM_SQL = """
SELECT id, payload FROM webhooks_webhookevent
WHERE status = 'pending' AND (enqueued_at IS NULL OR enqueued_at <= %(now)s)
  AND group_key = (
    SELECT group_key FROM webhooks_webhookevent
    WHERE status = 'pending' AND (enqueued_at IS NULL OR enqueued_at <= %(now)s)
    ORDER BY received_at LIMIT 1 FOR UPDATE SKIP LOCKED)
ORDER BY received_at
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""
# `enqueued_at` is stamped by the web process, compared here by a worker, possibly on another host: a
# small clock difference must not hold a new event back. (A delayed retry may then run that much early.)
CLAIM_CLOCK_TOLERANCE_SECONDS = 0.25
DRAIN_GROUP_LIMIT = 200
DRAIN_BUDGET_SECONDS = 2.0


def webhook_events_drain(*, kicked_at: float | None = None, budget_seconds: float = DRAIN_BUDGET_SECONDS) -> int:
    """Apply pending, due events, one customer's worth per transaction, until none is left or the budget
    is spent (then another drain is sent). Returns how many events got a final outcome or a failed
    attempt. Several drains may run at once: each claims different rows (SKIP LOCKED).

    A drain sent by an ingest (`kicked_at`) first waits until WEBHOOK_DRAIN_WINDOW_MS have passed since
    that ingest, with the flag still set: events arriving meanwhile send no message of their own and are
    applied in the same batches, one Stripe read per object (D112)."""
    from django.conf import settings

    window = settings.WEBHOOK_DRAIN_WINDOW_MS / 1000
    if kicked_at is not None and window > 0:
        wait = min(window, kicked_at + window - time.time())
        if wait > 0:
            time.sleep(wait)
    client = _flag_client()
    if client is not None:
        with contextlib.suppress(Exception):  # a stale flag expires by itself
            client.delete(DRAIN_FLAG)
    handled = 0
    stages.add("drain", 0)  # how many drains ran (their CPU is in the worker stages)
    deadline = time.monotonic() + budget_seconds
    try:
        while True:
            done = _drain_one_group(limit=DRAIN_GROUP_LIMIT)
            if done is None:
                break
            handled += done
            if time.monotonic() > deadline:
                webhook_drain_kick(force=True)
                break
    finally:
        stages.flush(force=True)
    return handled


def _drain_one_group(*, limit: int) -> int | None:
    from django.db import connection

    from billing.handlers import BatchStats, handle_events

    ids: list[int] = []
    stats = BatchStats()
    try:
        with transaction.atomic():
            started = time.thread_time_ns()
            with connection.cursor() as cursor:
                due = timezone.now() + dt.timedelta(seconds=CLAIM_CLOCK_TOLERANCE_SECONDS)
                cursor.execute(_CLAIM_SQL, {"now": due, "limit": limit})
                rows = cursor.fetchall()
            stages.add("claim", time.thread_time_ns() - started, len(rows))
            if not rows:
                return None
            ids = [row[0] for row in rows]
            payloads = [row[1] if isinstance(row[1], dict) else json.loads(row[1]) for row in rows]
            outcomes = handle_events(payloads, stats=stats)
            started = time.thread_time_ns()
            _record_outcomes(ids=ids, outcomes=outcomes)
            stages.add("record", time.thread_time_ns() - started, len(ids))
            commit_started = time.thread_time_ns()
        stages.add("commit", time.thread_time_ns() - commit_started)
        stages.add("fetch", stats.fetch_cpu_ns, stats.fetches)
        stages.add("apply", stats.apply_cpu_ns - stats.fetch_cpu_ns, stats.runs)
        return len(ids)
    except DATABASE_UNAVAILABLE:
        raise  # rolled back, nothing applied; the task retries
    except Exception:
        if not ids:
            raise
        logger.info("webhook batch of %s events failed; applying them one by one", len(ids), exc_info=True)
    for event_id in ids:  # the batch was rolled back: each event on its own records its own outcome
        try:
            webhook_event_process(event_id=event_id)
        except ProcessingError as exc:
            if not exc.final:
                attempts = WebhookEvent.objects.filter(pk=event_id).values_list("attempts", flat=True).first() or 1
                countdown = retry_delay(attempts)
                webhook_event_retry_scheduled(event_id=event_id, countdown=countdown)
                webhook_drain_kick(countdown=countdown)
    return len(ids)


_RECORD_SQL = """
UPDATE webhooks_webhookevent AS e
SET status = u.status, attempts = e.attempts + 1, tenant_id = u.tenant_id, last_error = '',
    processed_at = %(now)s, updated_at = %(now)s
FROM unnest(%(ids)s::bigint[], %(statuses)s::text[], %(tenants)s::bigint[]) AS u(id, status, tenant_id)
WHERE e.id = u.id
"""


def _record_outcomes(*, ids: list[int], outcomes: list[Any]) -> None:
    """Each event's own outcome, in the batch's transaction, in one statement."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            _RECORD_SQL,
            {
                "now": timezone.now(),
                "ids": ids,
                "statuses": [str(outcome.status) for outcome in outcomes],
                "tenants": [outcome.tenant_id for outcome in outcomes],
            },
        )


class ProcessingError(Exception):
    """The handler failed; the attempt was recorded. `final` when no retry is left."""

    def __init__(self, message: str, *, final: bool) -> None:
        super().__init__(message)
        self.final = final


# The database is unreachable, went away mid-transaction, or gave up on a lock: not the event's fault.
# Nothing is recorded (nothing can be); the task retries soon (`outage_retry_delay`), without spending
# one of the event's attempts.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def webhook_event_process(*, event_id: int, force: bool = False) -> str:
    """Apply one event exactly once: lock the row, skip if already final, dispatch, record.

    The handler's writes and the row's final status commit together. If the handler raises, the whole
    transaction is rolled back and the failed attempt is recorded in a new one (under the row lock
    again), so the common path needs no savepoint."""
    from billing.handlers import handle_event

    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
            if event is None:
                return "missing"
            if event.status in FINAL_STATUSES or (event.status == EventStatus.FAILED and not force):
                return event.status
            outcome = handle_event(event.payload)
            event.attempts += 1
            event.status = outcome.status
            event.tenant_id = outcome.tenant_id
            event.last_error = ""
            event.processed_at = timezone.now()
            event.save(update_fields=["status", "attempts", "last_error", "tenant", "processed_at", "updated_at"])
            return event.status
    except DATABASE_UNAVAILABLE:
        raise  # rolled back, nothing applied; the caller retries (webhooks.tasks.process_event)
    except Exception as exc:
        error = _record_failure(event_id=event_id, exc=exc)
        if isinstance(error, str):
            return error
        raise error from exc


def _record_failure(*, event_id: int, exc: Exception) -> ProcessingError | str:
    """Count a failed attempt (after the handler's rollback). If another run applied the event in the
    meantime (or the row is gone) there is nothing to count: its status is returned instead."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None:
            return "missing"
        if event.status in FINAL_STATUSES:
            return str(event.status)
        event.attempts += 1
        final = event.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
        event.status = EventStatus.FAILED if final else EventStatus.PENDING
        event.last_error = f"{type(exc).__name__}: {exc}"[:4000]
        event.save(update_fields=["status", "attempts", "last_error", "updated_at"])
    logger.warning("webhook %s attempt %s failed: %s", event.stripe_event_id, event.attempts, exc)
    return ProcessingError(event.last_error, final=final)


def retry_delay(attempt: int) -> float:
    """Exponential backoff with full jitter."""
    cap = min(settings.WEBHOOK_RETRY_MAX_SECONDS, settings.WEBHOOK_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1)))
    return cap / 2 + random.uniform(0, cap / 2)  # noqa: S311 - jitter, not security


def outage_retry_delay(retries: int) -> float:
    """Delay before retrying an event whose run found the database unavailable: short and capped
    (0.5, 1, 2, 4, then every WEBHOOK_OUTAGE_RETRY_MAX_SECONDS), so events are applied within seconds
    of the database returning."""
    return float(min(settings.WEBHOOK_OUTAGE_RETRY_MAX_SECONDS, 0.5 * 2 ** max(0, retries)))


def webhook_event_retry_scheduled(*, event_id: int, countdown: float) -> None:
    """Record that the event's next run is a delayed retry due in `countdown` seconds: `enqueued_at`
    becomes the time it is due, so the sweeper leaves it alone until then (plus its threshold)."""
    due = timezone.now() + dt.timedelta(seconds=countdown)
    WebhookEvent.objects.filter(pk=event_id, status=EventStatus.PENDING).update(enqueued_at=due)


# An event whose enqueue failed (no `enqueued_at`) is re-sent once it is this old: long enough for
# the ingest's own enqueue, which runs right after its commit, to have stamped or cleared it.
SWEEP_UNSENT_AFTER_SECONDS = 2


def webhook_events_sweep(*, older_than_seconds: int | None = None, limit: int = 500) -> int:
    """Re-enqueue pending events whose message is not on its way: the enqueue failed (the broker was
    down: no `enqueued_at`), or it was sent (or due, for a delayed retry) more than the threshold ago
    and the event is still pending, so the message was lost: the broker restarted without its data,
    or a killed worker held it. Runs every few seconds (beat); one indexed query when nothing is
    pending. A message that was only slow makes a duplicate, which the row lock turns into a no-op."""
    seconds = settings.WEBHOOK_SWEEP_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    now = timezone.now()
    stale = now - dt.timedelta(seconds=seconds)
    unsent = now - dt.timedelta(seconds=min(seconds, SWEEP_UNSENT_AFTER_SECONDS))
    ids = list(
        WebhookEvent.objects.filter(status=EventStatus.PENDING)
        .filter(Q(enqueued_at__isnull=True, received_at__lte=unsent) | Q(enqueued_at__lte=stale))
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return 0
    # One drain applies them all (it claims every pending, due event): stamp them, send it.
    WebhookEvent.objects.filter(pk__in=ids, status=EventStatus.PENDING).update(enqueued_at=now)
    if webhook_drain_kick(force=True):
        return len(ids)
    WebhookEvent.objects.filter(pk__in=ids, status=EventStatus.PENDING).update(enqueued_at=None)
    return 0


@transaction.atomic
def webhook_event_reset(*, event: WebhookEvent) -> WebhookEvent:
    """Put a failed (or any) event back to pending with a fresh attempt budget, for replay."""
    event = WebhookEvent.objects.select_for_update().get(pk=event.pk)
    event.status = EventStatus.PENDING
    event.attempts = 0
    event.save(update_fields=["status", "attempts", "updated_at"])
    return event


def webhook_events_replay(*, events: Any, inline: bool = False) -> list[tuple[str, str]]:
    """Reset and re-process events (inline, or via the queue). Returns (stripe id, status)."""
    results = []
    for event in events:
        webhook_event_reset(event=event)
        if inline:
            try:
                status = webhook_event_process(event_id=event.pk)
            except ProcessingError as exc:
                status = f"failed: {exc}"
        else:
            status = "enqueued" if webhook_event_enqueue(event_id=event.pk) else "enqueue failed"
        results.append((event.stripe_event_id, status))
    return results
