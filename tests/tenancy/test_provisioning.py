"""Provisioning from the spare pool, slug validation and generated schema names."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Membership, Role
from shared_apps.accounts.services import organization_provision
from tenant_apps.projects.models import Project
from tenants.models import Domain, SpareSchema, Tenant
from tenants.naming import SCHEMA_RE, generate_schema_name, validate_slug
from tenants.selectors import schema_exists

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("", "slug_required"),
        ("ab", "slug_length"),
        ("a" * 41, "slug_length"),
        ("Acme", "slug_charset"),
        ("1acme", "slug_charset"),
        ("acme--co", "slug_charset"),
        ("acme-", "slug_charset"),
        ("ac me", "slug_charset"),
        ("acme;drop", "slug_charset"),
        ("public", "slug_reserved"),
        ("www", "slug_reserved"),
        ("api", "slug_reserved"),
        ("admin", "slug_reserved"),
        ("static", "slug_reserved"),
    ],
)
def test_bad_slugs_are_refused_and_nothing_is_written(slug, code):
    tenants_before, spares_before = Tenant.objects.count(), SpareSchema.objects.count()
    with pytest.raises(ValidationError) as exc:
        organization_provision(slug=slug, name="X", owner_email="x@example.test")
    assert exc.value.code == code
    assert (Tenant.objects.count(), SpareSchema.objects.count()) == (tenants_before, spares_before)


def test_good_slug_passes():
    assert validate_slug("acme-co2") == "acme-co2"


def test_schema_names_are_generated_never_user_input():
    names = {generate_schema_name() for _ in range(50)}
    assert len(names) == 50
    assert all(SCHEMA_RE.match(n) for n in names)


def test_provisioning_takes_a_spare_schema_and_sets_up_owner_and_domain():
    spare = SpareSchema.objects.order_by("created_at").first()
    assert spare is not None, "the session keeps spare schemas in the pool"
    spares_before = SpareSchema.objects.count()

    tenant = organization_provision(
        slug="newco", name="New Co", owner_email="Boss@NewCo.test", owner_password="pw-123456789"
    )

    assert tenant.schema_name == spare.schema_name  # the pre-migrated schema, not user input
    assert tenant.schema_name != "newco"
    assert SpareSchema.objects.count() == spares_before - 1
    assert Domain.objects.get(tenant=tenant).domain == "newco.localhost"
    membership = Membership.objects.get(tenant=tenant)
    assert membership.role == Role.OWNER
    assert membership.user.email == "boss@newco.test"
    with schema_context(tenant.schema_name):  # the schema is migrated and usable at once
        Project.objects.create(name="first")
        assert Project.objects.count() == 1


@pytest.mark.usefixtures("tenant_a")
def test_duplicate_slug_is_refused():
    with pytest.raises(ValidationError) as exc:
        organization_provision(slug="alpha", name="Again", owner_email="x@example.test")
    assert exc.value.code == "slug_taken"
    assert Tenant.objects.filter(slug="alpha").count() == 1


def test_provision_command_reports_errors_cleanly():
    with pytest.raises(CommandError, match="slug_reserved"):
        call_command("provision_tenant", slug="admin", name="A", owner_email="a@example.test")


def test_provision_command_creates_tenant(capsys):
    call_command("provision_tenant", slug="cmdco", name="Cmd Co", owner_email="o@cmdco.test")
    tenant = Tenant.objects.get(slug="cmdco")
    assert schema_exists(schema_name=tenant.schema_name)
    assert "cmdco.localhost" in capsys.readouterr().out


def test_tenant_data_is_isolated_between_schemas(tenant_a, tenant_b):
    with schema_context(tenant_a.schema_name):
        Project.objects.create(name="alpha secret")
    with schema_context(tenant_b.schema_name):
        assert not Project.objects.filter(name="alpha secret").exists()
