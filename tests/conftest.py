"""Shared fixtures.

Tenants are expensive to create (a migrated schema each), so the session creates a few once, right
after the test database, and every test runs inside a transaction that is rolled back. Tests that
need a fresh tenant take one from the spare pool (milliseconds), also rolled back.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from shared_apps.accounts.models import Role, User
from shared_apps.accounts.services import membership_add, organization_provision
from tenants.conn import connection
from tenants.models import Tenant
from tenants.services import schema_pool_refill
from tests.factories import TEST_PASSWORD, UserFactory
from tests.support.workers import celery_worker

SESSION_TENANTS = ("alpha", "beta")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    with django_db_blocker.unblock():
        # Enough spare schemas for the session tenants plus the provisioning tests.
        schema_pool_refill(size=len(SESSION_TENANTS) + 4)
        for slug in SESSION_TENANTS:
            if not Tenant.objects.filter(slug=slug).exists():
                organization_provision(
                    slug=slug,
                    name=slug.title(),
                    owner_email=f"owner@{slug}.test",
                    owner_password=TEST_PASSWORD,
                )


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    from tenants.base.request_cache import request_cache_clear_local
    from tenants.resolution import resolution_cache_invalidate

    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()
    # A test's rolled-back transaction may have changed tenants the resolution cache already saw,
    # and rows (memberships, tokens, subscriptions) the API's request cache already holds.
    resolution_cache_invalidate()
    request_cache_clear_local()


@pytest.fixture
def tenant_a(db) -> Tenant:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    return Tenant.objects.get(slug="alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    return Tenant.objects.get(slug="beta")


@pytest.fixture
def owner_a(tenant_a: Tenant) -> User:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    return User.objects.get(email="owner@alpha.test")


@pytest.fixture
def member_factory():
    """make(tenant, role) -> a new user with that role in that tenant."""

    def make(tenant: Tenant, role: str = Role.MEMBER, **kwargs: object) -> User:
        user: User = UserFactory(**kwargs)  # type: ignore[assignment]
        membership_add(user=user, tenant_id=tenant.pk, role=role)
        return user

    return make


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup) -> Iterator[subprocess.Popen]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """A real Celery worker process on the real broker, against the test database."""
    from tests.billing.support import standin_server

    standin_server()  # the worker inherits the stand-in's address and the webhook secrets
    with celery_worker(name=f"test-{os.getpid()}") as proc:
        yield proc


@pytest.fixture
def wait_until():
    def wait(predicate, timeout: float = 20.0, interval: float = 0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(interval)
        raise AssertionError("condition not met within timeout")

    return wait
