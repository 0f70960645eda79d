"""Thin Celery entry points for the webhook inbox (public schema)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

# Imported with the worker's tasks (before prefork children fork), not by the first event each process
# handles: the handlers pull in the stripe SDK, about 70 ms that would otherwise delay that event.
from billing import handlers as _handlers  # noqa: F401
from webhooks import services
from webhooks.models import WebhookEvent


@shared_task(bind=True, name="webhooks.process_event", ignore_result=True, max_retries=None)
def process_event(self: Any, event_id: int) -> str:
    try:
        return services.webhook_event_process(event_id=event_id)
    except services.ProcessingError as exc:
        if exc.final:
            return "failed"
        attempts = WebhookEvent.objects.filter(pk=event_id).values_list("attempts", flat=True).first() or 1
        raise self.retry(countdown=services.retry_delay(attempts), exc=exc) from exc


@shared_task(name="webhooks.sweep_pending", ignore_result=True)
def sweep_pending() -> int:
    return services.webhook_events_sweep()
