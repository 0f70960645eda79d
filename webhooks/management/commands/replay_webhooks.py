"""`manage.py replay_webhooks`: re-process stored Stripe events (failed, unmatched, or by id).

A progress bar (one step per event) goes to standard error when it is a terminal (`--no-progress`
turns it off); standard output gets one line per event and a summary by outcome.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.management.progress import add_progress_argument, command_progress
from webhooks.models import EventStatus, WebhookEvent
from webhooks.services import webhook_events_replay


class Command(BaseCommand):
    help = "Re-process Stripe webhook events: every failed one (--failed) or one by id (--id evt_...)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--failed", action="store_true", help="replay every event parked as failed")
        parser.add_argument("--unmatched", action="store_true", help="replay every unmatched event")
        parser.add_argument("--parked", action="store_true", help="replay every parked event (read parse_note first)")
        parser.add_argument("--id", dest="event_ids", action="append", default=[], help="Stripe event id")
        parser.add_argument("--enqueue", action="store_true", help="send to the worker instead of running here")
        add_progress_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        statuses = []
        if options["failed"]:
            statuses.append(EventStatus.FAILED)
        if options["unmatched"]:
            statuses.append(EventStatus.UNMATCHED)
        if options["parked"]:
            statuses.append(EventStatus.PARKED)
        if not statuses and not options["event_ids"]:
            raise CommandError("Give --failed, --unmatched, --parked or --id EVT.")
        events = list(WebhookEvent.objects.filter(status__in=statuses).order_by("received_at"))
        for event_id in options["event_ids"]:
            event = WebhookEvent.objects.filter(stripe_event_id=event_id).first()
            if event is None:
                raise CommandError(f"No stored event {event_id}.")
            events.append(event)
        results: list[tuple[str, str]] = []
        with command_progress(self, "replaying", options=options) as bar:
            bar.planned(len(events))
            for event in events:
                results += webhook_events_replay(events=[event], inline=not options["enqueue"])
                bar.step(event.stripe_event_id)
        # Printed once the bar is done, so that lines and bar do not interleave on a terminal.
        outcomes: Counter[str] = Counter()
        for stripe_id, status in results:
            self.stdout.write(f"{stripe_id}: {status}")
            outcomes[status.split(":")[0]] += 1
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        self.stdout.write(f"{len(events)} event(s) replayed{': ' + summary if summary else ''}.")
