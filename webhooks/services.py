"""Inbox writes: store a verified event (deduplicated), process it under a row lock, replay."""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from tenants.base import jsonlimits
from tenants.base.observability import metric_incr
from webhooks.models import FINAL_STATUSES, EventStatus, WebhookEvent

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
    bad_paths = jsonlimits.unstorable_paths(raw)
    if bad_paths:
        shown = ", ".join(path[:120] for path in bad_paths[:10])
        if len(bad_paths) > 10:
            shown += f" and {len(bad_paths) - 10} more"
        problems.append(f"U+0000 or unpaired surrogate replaced by U+FFFD in payload at: {shown}")
        parked = parked or any(_is_routing(path) for path in bad_paths)
    payload: dict[str, Any] = jsonlimits.jsonb_safe(raw) if bad_paths else raw
    event_id, event_type = payload.get("id"), payload.get("type")
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(event_id) > 255:
        raise InvalidEventError("invalid_event", "The event has no valid id.")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 120:
        raise InvalidEventError("invalid_event", "The event has no valid type.")
    if not isinstance(payload.get("data", {}), dict):
        raise InvalidEventError("invalid_event", "The event data is malformed.")
    return ParsedEvent(payload=payload, problems=tuple(problems), parked=parked)


def _created(payload: dict[str, Any]) -> dt.datetime | None:
    value = payload.get("created")
    if isinstance(value, int) and 0 < value < 10**11:
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return None


def webhook_event_ingest(*, body: bytes, event: ParsedEvent) -> IngestResult:
    """Store the event once (unique on the Stripe id) and enqueue processing after commit.

    Outside a transaction (the request path) the INSERT commits on its own: one round trip, and the
    on_commit enqueue runs right after it. `enqueued_at` is stamped with the row, as the time of the
    enqueue attempt; a failed enqueue clears it, and the sweeper picks the row up.

    A parked event (see parse_event) is stored with status `parked` and not enqueued; an event whose
    payload had to be sanitised outside the routing fields is processed as usual. Either way the
    problems are kept in `parse_note`, logged and counted (`tenantry_webhook_intake_problems_total`)."""
    payload = event.payload
    fields = {
        "stripe_event_id": payload["id"],
        "type": payload["type"],
        "livemode": bool(payload.get("livemode")),
        "api_version": str(payload.get("api_version") or "")[:64],
        "stripe_created": _created(payload),
        "body": body.decode("utf-8"),  # parse_event checked: UTF-8 without NUL, so byte-exact as text
        "payload": payload,
        "parse_note": "; ".join(event.problems)[:2000],
        "status": EventStatus.PARKED if event.parked else EventStatus.PENDING,
        "enqueued_at": None if event.parked else timezone.now(),
    }
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():  # a savepoint, so a duplicate does not break the caller's transaction
                row = WebhookEvent.objects.create(**fields)
        else:
            row = WebhookEvent.objects.create(**fields)  # autocommit
    except IntegrityError:
        return IngestResult(WebhookEvent.objects.get(stripe_event_id=payload["id"]), created=False)
    if event.problems:
        _report_intake_problem(row=row)
    if not event.parked:
        transaction.on_commit(lambda: webhook_event_enqueue(event_id=row.pk, stamped=True))
    return IngestResult(row, created=True)


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


def webhook_event_enqueue(*, event_id: int, countdown: float | None = None, stamped: bool = False) -> bool:
    """Send the processing task. A broker outage is logged, not raised: the row stays pending (its
    `enqueued_at` cleared) and the sweeper re-enqueues it. `stamped`: the row already carries the
    enqueue time (set at ingest), so success needs no second write."""
    from webhooks.tasks import process_event

    try:
        process_event.apply_async(
            args=[event_id], countdown=countdown, retry_policy={"max_retries": 2, "interval_start": 0.1}
        )
    except Exception:
        logger.warning("could not enqueue webhook event %s; the sweeper will retry", event_id, exc_info=True)
        if stamped:
            WebhookEvent.objects.filter(pk=event_id, status=EventStatus.PENDING).update(enqueued_at=None)
        return False
    if not stamped:
        WebhookEvent.objects.filter(pk=event_id).update(enqueued_at=timezone.now())
    return True


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
    return sum(1 for pk in ids if webhook_event_enqueue(event_id=pk))


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
