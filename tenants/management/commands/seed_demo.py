import os

from django.core.management.base import BaseCommand, CommandParser

from shared_apps.accounts.models import Role, User
from shared_apps.accounts.services import membership_add
from tenants.models import Tenant
from tenants.services import tenant_provision

DEFAULT_DEMO_PASSWORD = "tenantry-demo-2026"  # noqa: S105 - printed on purpose; local demo data only


class Command(BaseCommand):
    help = "Create (or keep) the demo organization `acme` with owner owner@acme.test. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: object, **opts: int) -> None:
        password = os.environ.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
        email = "owner@acme.test"
        tenant = Tenant.objects.filter(slug="acme").first()
        if tenant is None:
            tenant = tenant_provision(slug="acme", name="Acme Inc.", owner_email=email, owner_password=password)
        user = User.objects.get(email=email)
        user.set_password(password)
        user.save(update_fields=["password"])
        membership_add(user=user, tenant_id=tenant.pk, role=Role.OWNER)
        shown = password if not os.environ.get("DEMO_PASSWORD") else "(from DEMO_PASSWORD)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo organization: http://acme.localhost:{opts['port']}/  sign in as {email} / {shown}"
            )
        )
