"""`manage.py reconcile_billing`: compare the mirror with Stripe, repair it, store a drift report.

A progress bar (one step per organization) goes to standard error when it is a terminal
(`--no-progress` turns it off); standard output gets one line per drift found and a summary.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from billing.reconcile import reconcile_all
from tenants.management.progress import add_progress_argument, command_progress


class Command(BaseCommand):
    help = "Compare the billing mirror with Stripe, repair it, print and store a drift report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-create-customers",
            action="store_true",
            help="Only report organizations without a Stripe customer instead of creating one.",
        )
        add_progress_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        with command_progress(self, "reconciling", options=options) as bar:
            report = reconcile_all(
                create_missing_customers=not options["no_create_customers"],
                on_planned=bar.planned,
                on_step=bar.step,
            )
        for item in report.items:
            self.stdout.write(
                f"{item['kind']} {item['stripe_id']} ({item['tenant']}) {item['field']}: "
                f"mirror={item['mirror']!r} stripe={item['stripe']!r} repaired={item['repaired']}"
            )
        for err in report.errors:
            self.stderr.write(f"error {err['tenant']}: {err['error']}")
        self.stdout.write(
            f"report {report.pk}: {report.customers_checked} customer(s), {report.drift_count} drift(s), "
            f"{report.repaired_count} repaired, {len(report.errors)} error(s) "
            f"in {((report.finished_at or report.started_at) - report.started_at).total_seconds():.1f}s"
        )
