import os

from django.core.management.base import BaseCommand, CommandParser

from shared_apps.accounts.models import Role, User
from shared_apps.accounts.services import membership_add, organization_provision
from tenants.models import Tenant

DEFAULT_DEMO_PASSWORD = "tenantry-demo-2026"  # noqa: S105 - printed on purpose; local demo data only


class Command(BaseCommand):
    help = (
        "Create (or keep) the demo organization `acme` with owner owner@acme.test. Idempotent. "
        "With ADMIN_EMAIL (and ADMIN_PASSWORD) in the environment, also a platform superuser for /admin/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: object, **opts: int) -> None:
        password = os.environ.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
        email = "owner@acme.test"
        tenant = Tenant.objects.filter(slug="acme").first()
        if tenant is None:
            tenant = organization_provision(slug="acme", name="Acme Inc.", owner_email=email, owner_password=password)
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
        self._platform_admin(port=opts["port"])

    def _platform_admin(self, *, port: int) -> None:
        """ADMIN_EMAIL (+ ADMIN_PASSWORD): a platform superuser for the Django admin on the public host.
        An existing account is promoted, and its password replaced only when ADMIN_PASSWORD is given."""
        admin_email = (os.environ.get("ADMIN_EMAIL") or "").strip().lower()
        if not admin_email:
            return
        admin_password = os.environ.get("ADMIN_PASSWORD") or None
        user = User.objects.filter(email__iexact=admin_email).first()
        if user is None:
            user = User.objects.create_superuser(email=admin_email, password=admin_password)
        else:
            user.is_staff = user.is_superuser = user.is_active = True
            if admin_password:
                user.set_password(admin_password)
            user.save()
        if not user.has_usable_password():
            note = "no password yet: set one with `manage.py changepassword " + admin_email + "`"
        else:
            note = "password from ADMIN_PASSWORD" if admin_password else "existing password kept"
        self.stdout.write(
            self.style.SUCCESS(f"Admin: http://localhost:{port}/admin/  sign in as {admin_email} ({note})")
        )
