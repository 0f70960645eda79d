"""Inbox writes: store a verified event (deduplicated), process it under a row lock, replay."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from webhooks.models import FINAL_STATUSES, EventStatus, WebhookEvent

logger = logging.getLogger(__name__)


class InvalidEventError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IngestResult:
    event: WebhookEvent
    created: bool


def parse_event(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEventError("invalid_json", "The body is not valid JSON.") from exc
    if not isinstance(payload, dict):
        raise InvalidEventError("invalid_event", "The body is not a Stripe event.")
    event_id, event_type = payload.get("id"), payload.get("type")
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(event_id) > 255:
        raise InvalidEventError("invalid_event", "The event has no valid id.")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 120:
        raise InvalidEventError("invalid_event", "The event has no valid type.")
    if not isinstance(payload.get("data", {}), dict):
        raise InvalidEventError("invalid_event", "The event data is malformed.")
    return payload


def _created(payload: dict[str, Any]) -> dt.datetime | None:
    value = payload.get("created")
    if isinstance(value, int) and 0 < value < 10**11:
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return None


def webhook_event_ingest(*, body: bytes, payload: dict[str, Any]) -> IngestResult:
    """Store the event once (unique on the Stripe id) and enqueue processing after commit.

    Outside a transaction (the request path) the INSERT commits on its own: one round trip, and the
    on_commit enqueue runs right after it. `enqueued_at` is stamped with the row, as the time of the
    enqueue attempt; a failed enqueue clears it, and the sweeper picks the row up."""
    fields = {
        "stripe_event_id": payload["id"],
        "type": payload["type"],
        "livemode": bool(payload.get("livemode")),
        "api_version": str(payload.get("api_version") or "")[:64],
        "stripe_created": _created(payload),
        "body": body.decode("utf-8"),
        "payload": payload,
        "status": EventStatus.PENDING,
        "enqueued_at": timezone.now(),
    }
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():  # a savepoint, so a duplicate does not break the caller's transaction
                event = WebhookEvent.objects.create(**fields)
        else:
            event = WebhookEvent.objects.create(**fields)  # autocommit
    except IntegrityError:
        return IngestResult(WebhookEvent.objects.get(stripe_event_id=payload["id"]), created=False)
    transaction.on_commit(lambda: webhook_event_enqueue(event_id=event.pk, stamped=True))
    return IngestResult(event, created=True)


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
