from django.core.management.base import BaseCommand, CommandParser

from tenants.services import schema_pool_refill


class Command(BaseCommand):
    help = "Top up the pool of spare, pre-migrated tenant schemas (normally done by a Celery beat task)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", type=int, default=None)

    def handle(self, *args: object, **opts: int | None) -> None:
        created = schema_pool_refill(size=opts["size"])
        self.stdout.write(f"created {created} spare schema(s)")
