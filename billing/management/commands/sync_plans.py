from typing import Any

from django.core.management.base import BaseCommand

from billing.services import plans_sync


class Command(BaseCommand):
    help = "Push settings.BILLING_PLANS to Stripe (products, prices with lookup keys) and pull price ids back."

    def handle(self, *args: Any, **options: Any) -> None:
        plans = plans_sync(stdout=self.stdout)
        self.stdout.write(f"{len(plans)} plan(s) in sync.")
