from typing import Any

from django.core.management.base import BaseCommand

from billing.reconcile import reconcile_all


class Command(BaseCommand):
    help = "Compare the billing mirror with Stripe, repair it, print and store a drift report."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-create-customers", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        report = reconcile_all(create_missing_customers=not options["no_create_customers"])
        for item in report.items:
            self.stdout.write(
                f"{item['kind']} {item['stripe_id']} ({item['tenant']}) {item['field']}: "
                f"mirror={item['mirror']!r} stripe={item['stripe']!r} repaired={item['repaired']}"
            )
        for err in report.errors:
            self.stderr.write(f"error {err['tenant']}: {err['error']}")
        self.stdout.write(
            f"report {report.pk}: {report.customers_checked} customer(s), {report.drift_count} drift(s), "
            f"{report.repaired_count} repaired, {len(report.errors)} error(s)"
        )
