from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shared_apps.accounts.services import organization_provision
from tenants.selectors import tenant_origin


class Command(BaseCommand):
    help = "Create an organization (schema from the spare pool) with its owner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", default=None, help="Optional; without it the owner must reset it.")

    def handle(self, *args: object, **opts: str) -> None:
        try:
            tenant = organization_provision(
                slug=opts["slug"],
                name=opts["name"],
                owner_email=opts["owner_email"],
                owner_password=opts["owner_password"],
            )
        except ValidationError as exc:
            raise CommandError(f"{exc.code}: {' '.join(exc.messages)}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"{tenant.slug}: schema {tenant.schema_name}, {tenant_origin(tenant=tenant)}/")
        )
