"""Thin Celery entry points for the webhook inbox (public schema)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

# Imported with the worker's tasks (before prefork children fork), not by the first event each process
# handles: the handlers pull in the stripe SDK, about 70 ms that would otherwise delay that event.
from billing import handlers as _handlers  # noqa: F401
from webhooks import services
from webhooks.models import WebhookEvent

logger = logging.getLogger(__name__)


# One event on its own. Ingest no longer sends it (it kicks `drain`); kept for messages queued before an
# upgrade and for callers that want a single event applied through the queue.
@shared_task(bind=True, name="webhooks.process_event", ignore_result=True, max_retries=None)
def process_event(self: Any, event_id: int) -> str:
    try:
        return services.webhook_event_process(event_id=event_id)
    except services.DATABASE_UNAVAILABLE as exc:
        # PostgreSQL is down or restarting: retry within seconds, for as long as it takes (the row is
        # untouched, so a retry cannot apply the event twice). If this retry is lost too, the sweeper
        # re-sends the event once the database is back.
        raise self.retry(countdown=services.outage_retry_delay(self.request.retries), exc=exc) from exc
    except services.ProcessingError as exc:
        if exc.final:
            return "failed"
        attempts = WebhookEvent.objects.filter(pk=event_id).values_list("attempts", flat=True).first() or 1
        countdown = services.retry_delay(attempts)
        services.webhook_event_retry_scheduled(event_id=event_id, countdown=countdown)
        raise self.retry(countdown=countdown, exc=exc) from exc


@shared_task(bind=True, name=services.DRAIN_TASK, ignore_result=True, max_retries=None)
def drain(self: Any, kicked_at: float | None = None) -> int:
    """Apply every pending, due event (webhooks.services.webhook_events_drain). Sent after an ingest
    when no drain is queued yet, by the sweeper, for a delayed retry, and by a drain out of budget."""
    try:
        return services.webhook_events_drain(kicked_at=kicked_at)
    except services.DATABASE_UNAVAILABLE as exc:
        # Nothing was applied (each batch is one transaction): retry within seconds; the sweeper
        # re-sends if this retry is lost too.
        raise self.retry(countdown=services.outage_retry_delay(self.request.retries), exc=exc) from exc


# Sent by beat every WEBHOOK_SWEEP_INTERVAL_SECONDS with that expiry: sweeps queued while no worker ran
# are dropped on arrival instead of running back to back.
@shared_task(name="webhooks.sweep_pending", ignore_result=True)
def sweep_pending() -> int:
    try:
        return services.webhook_events_sweep()
    except services.DATABASE_UNAVAILABLE as exc:
        logger.warning("webhook sweep skipped, the database is unavailable: %s", exc)
        return 0  # the next sweep, seconds later, does it
