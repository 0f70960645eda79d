"""Suspend, reactivate, close, purge after retention, export."""

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Membership
from shared_apps.accounts.services import organization_provision
from tenant_apps.projects.models import Project
from tenants.models import Tenant, TenantStatus
from tenants.selectors import schema_exists
from tenants.services import (
    tenant_close,
    tenant_export,
    tenant_purge,
    tenant_reactivate,
    tenant_suspend,
)
from tests.support.clients import tenant_client

pytestmark = pytest.mark.django_db


def test_suspend_and_reactivate(tenant_a):
    tenant_suspend(tenant=tenant_a)
    tenant_a.refresh_from_db()
    assert tenant_a.status == TenantStatus.SUSPENDED
    assert tenant_a.status_changed_at is not None
    assert tenant_client(tenant_a).post("/", HTTP_ACCEPT="application/json").status_code == 402
    tenant_reactivate(tenant=tenant_a)
    tenant_a.refresh_from_db()
    assert tenant_a.status == TenantStatus.ACTIVE
    assert tenant_client(tenant_a).get("/login/").status_code == 200


def test_close_keeps_data_and_blocks_access(tenant_a):
    with schema_context(tenant_a.schema_name):
        Project.objects.create(name="kept")
    tenant_close(tenant=tenant_a)
    tenant_a.refresh_from_db()
    assert tenant_a.status == TenantStatus.CLOSED
    assert tenant_a.closed_at is not None
    assert tenant_client(tenant_a).get("/", HTTP_ACCEPT="application/json").status_code == 410
    with schema_context(tenant_a.schema_name):
        assert Project.objects.filter(name="kept").exists()


def test_purge_refuses_before_retention_and_open_tenants(tenant_a):
    with pytest.raises(ValidationError) as exc:
        tenant_purge(tenant=tenant_a)
    assert exc.value.code == "not_closed"
    tenant_close(tenant=tenant_a)
    tenant_a.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        tenant_purge(tenant=tenant_a)
    assert exc.value.code == "retention_not_passed"
    assert schema_exists(schema_name=tenant_a.schema_name)


def test_purge_after_retention_drops_schema_and_rows():
    tenant = organization_provision(slug="doomed", name="Doomed", owner_email="o@doomed.test")
    tenant_close(tenant=tenant)
    tenant.refresh_from_db()
    later = timezone.now() + dt.timedelta(days=31)
    tenant_purge(tenant=tenant, now=later)
    assert not Tenant.objects.filter(slug="doomed").exists()
    assert not Membership.objects.filter(tenant_id=tenant.pk).exists()
    assert not schema_exists(schema_name=tenant.schema_name)


def test_invalid_transition_is_refused(tenant_a):
    tenant_close(tenant=tenant_a)
    tenant_a.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        tenant_suspend(tenant=tenant_a)
    assert exc.value.code == "invalid_status_transition"


def test_export_contains_members_and_tenant_data(tenant_a):
    with schema_context(tenant_a.schema_name):
        Project.objects.create(name="exported project")
    payload = tenant_export(tenant=tenant_a)
    assert payload["organization"]["slug"] == "alpha"
    assert {"email": "owner@alpha.test", "role": "owner"}.items() <= payload["members"][0].items()
    names = [row["name"] for row in payload["data"]["projects.Project"]]
    assert names == ["exported project"]
    json.dumps(payload, default=str)  # serialisable


@pytest.mark.usefixtures("capsys")
def test_lifecycle_command(tenant_b, tmp_path):
    call_command("tenant", "suspend", "beta")
    tenant_b.refresh_from_db()
    assert tenant_b.status == TenantStatus.SUSPENDED
    call_command("tenant", "reactivate", "beta")
    out = tmp_path / "beta.json"
    call_command("tenant", "export", "beta", "--output", str(out))
    assert json.loads(out.read_text())["organization"]["slug"] == "beta"
