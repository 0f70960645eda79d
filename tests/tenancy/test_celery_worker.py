"""A real Celery worker on the real broker runs tenant tasks in the sender's tenant schema."""

import pytest
from django_tenants.utils import schema_context

from tenants.celery import TenantRequiredError, require_tenant_schema
from tenants.tasks import tenant_ping

pytestmark = [pytest.mark.django_db, pytest.mark.worker]


@pytest.mark.usefixtures("celery_worker_process")
def test_task_runs_in_its_tenants_schema_on_a_real_worker(tenant_a, tenant_b):
    with schema_context(tenant_a.schema_name):
        result_a = tenant_ping.delay()
    with schema_context(tenant_b.schema_name):
        result_b = tenant_ping.delay()
    assert result_a.get(timeout=30)["schema"] == tenant_a.schema_name
    assert result_b.get(timeout=30)["schema"] == tenant_b.schema_name


@pytest.mark.usefixtures("celery_worker_process", "db")
def test_task_without_tenant_fails_loudly_on_a_real_worker():
    result = tenant_ping.delay()  # sent from the public schema
    with pytest.raises(TenantRequiredError):
        result.get(timeout=30)


@pytest.mark.usefixtures("db")
def test_require_tenant_schema_in_public_raises():
    with pytest.raises(TenantRequiredError):
        require_tenant_schema()
