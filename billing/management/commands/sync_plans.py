"""`manage.py sync_plans`: push the plan catalog (settings.BILLING_PLANS) to Stripe, pull price ids back.

A progress bar (one step per plan) goes to standard error when it is a terminal (`--no-progress`
turns it off); standard output gets one line per plan and a summary (nothing with `-v 0`).
"""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from billing.models import Plan
from billing.services import plans_sync
from tenants.management.progress import add_progress_argument, command_progress


class Command(BaseCommand):
    help = "Push settings.BILLING_PLANS to Stripe (products, prices with lookup keys) and pull price ids back."

    def add_arguments(self, parser: CommandParser) -> None:
        add_progress_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        synced: list[Plan] = []

        with command_progress(self, "plans", options=options) as bar:

            def on_plan(plan: Plan) -> None:
                synced.append(plan)
                bar.step(plan.code)

            bar.planned(len(settings.BILLING_PLANS))
            plans = plans_sync(on_plan=on_plan)
        if int(options["verbosity"]) < 1:
            return  # -v 0: silent unless something fails (make run's start-up)
        for plan in synced:
            self.stdout.write(
                f"{plan.code}: product {plan.stripe_product_id} price {plan.stripe_price_id} ({plan.lookup_key})"
            )
        self.stdout.write(f"{len(plans)} plan(s) in sync in {time.monotonic() - started:.1f}s.")
