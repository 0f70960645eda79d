"""The sweeper re-sends exactly the events whose message is not on its way (issue 10, point 3):
a failed enqueue at once, a sent message once it is WEBHOOK_SWEEP_AFTER_SECONDS old, and a delayed
retry only after it was due. The end-to-end recovery times are measured by `make test-faults`."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from webhooks.models import EventStatus, WebhookEvent
from webhooks.services import outage_retry_delay, webhook_event_retry_scheduled, webhook_events_sweep


def _event(
    suffix: str, *, received_ago: float, enqueued_ago: float | None, status: str = EventStatus.PENDING
) -> WebhookEvent:
    now = timezone.now()
    event = WebhookEvent.objects.create(
        stripe_event_id=f"evt_sweep_{suffix}",
        type="invoice.paid",
        body="{}",
        payload={},
        status=status,
        enqueued_at=None if enqueued_ago is None else now - dt.timedelta(seconds=enqueued_ago),
    )
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=now - dt.timedelta(seconds=received_ago))
    return event


def _enqueued_recently(event: WebhookEvent) -> bool:
    event.refresh_from_db()
    return event.enqueued_at is not None and timezone.now() - event.enqueued_at < dt.timedelta(seconds=5)


@pytest.mark.django_db
def test_sweep_resends_failed_enqueues_and_lost_messages_only() -> None:
    stale = settings.WEBHOOK_SWEEP_AFTER_SECONDS
    unsent = _event("unsent", received_ago=3, enqueued_ago=None)  # the broker was down at ingest
    lost = _event("lost", received_ago=stale + 5, enqueued_ago=stale + 5)  # sent, never processed
    just_in = _event("just_in", received_ago=0, enqueued_ago=None)  # its own enqueue may still run
    on_its_way = _event("on_its_way", received_ago=stale - 5, enqueued_ago=stale - 5)
    done = _event("done", received_ago=600, enqueued_ago=600, status=EventStatus.PROCESSED)
    failed = _event("failed", received_ago=600, enqueued_ago=600, status=EventStatus.FAILED)

    assert webhook_events_sweep() == 2
    assert _enqueued_recently(unsent)
    assert _enqueued_recently(lost)
    for untouched in (just_in, on_its_way, done, failed):
        before = untouched.enqueued_at
        untouched.refresh_from_db()
        assert untouched.enqueued_at == before
    # Re-sent ones are not sent again by the next sweep, seconds later.
    assert webhook_events_sweep() == 0


@pytest.mark.django_db
def test_a_scheduled_retry_is_left_alone_until_it_is_due() -> None:
    event = _event("retrying", received_ago=600, enqueued_ago=600)
    webhook_event_retry_scheduled(event_id=event.pk, countdown=120)
    assert webhook_events_sweep() == 0
    event.refresh_from_db()
    assert event.enqueued_at is not None
    assert event.enqueued_at > timezone.now() + dt.timedelta(seconds=100)
    # Once due (and the threshold past) without having run, the sweeper sends it.
    WebhookEvent.objects.filter(pk=event.pk).update(
        enqueued_at=timezone.now() - dt.timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_SECONDS + 1)
    )
    assert webhook_events_sweep() == 1


def test_outage_retries_are_quick_and_capped() -> None:
    delays = [outage_retry_delay(n) for n in range(8)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(delays) == settings.WEBHOOK_OUTAGE_RETRY_MAX_SECONDS
