"""A database connection that has used more tenant schemas than TENANT_CONN_MAX_SCHEMAS is replaced at
the end of the request (or Celery task) that crossed the limit, never before it and never inside an
atomic block (tenants/conn_recycling.py, D138).

These tests need committed organizations and no test-wide transaction (a connection inside an atomic
block is never closed), so they open the database themselves and remove what they created.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections, transaction
from django_tenants.utils import schema_context

from shared_apps.accounts.models import User
from tenants.models import SpareSchema
from tenants.services import schema_pool_refill
from tenants.shard_config import DEFAULT_SHARD
from tenants.tasks import tenant_ping
from tests.shards.support import Committed
from tests.support.api import Api
from tests.support.clients import public_client

METRICS_TOKEN = "recycling-metrics-token"


def backend_of(wrapper: Any) -> int:
    """The server session behind a Django connection (opening it if needed): PostgreSQL's
    pg_backend_pid() on a direct connection; behind pgbouncer in transaction mode (make
    test-pgbouncer), the key pgbouncer gives this client connection, since the server backend
    under it changes from one transaction to the next."""
    wrapper.set_schema_to_public()  # the probe itself uses no tenant schema
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return pid if wrapper.search_path_mode == "session" else wrapper.connection.info.backend_pid


@pytest.fixture(scope="module")
def orgs(django_db_setup, django_db_blocker) -> Iterator[list[tuple[Any, User]]]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """Four committed organizations with their owners; the spare pool is topped up again afterwards."""
    made = Committed()
    with django_db_blocker.unblock():
        spares = SpareSchema.objects.filter(shard=DEFAULT_SHARD).count()
        try:
            tenants = [made.org(f"recycle{i}") for i in range(4)]
            yield [(t, User.objects.get(email=f"owner@{t.slug}.test")) for t in tenants]
        finally:
            connections["default"].set_schema_to_public()
            made.cleanup()
            schema_pool_refill(size=spares, shard=DEFAULT_SHARD)


@pytest.fixture
def open_db(django_db_blocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield
        connections["default"].set_schema_to_public()


def _list_projects(org: Any, owner: User) -> None:
    response = Api(org, user=owner).get("/api/v1/projects/")
    assert response.status_code == 200, response.content


def _recycled_total(alias: str) -> float:
    """The operator's view: tenantry_db_connections_recycled_total{alias} on /metrics (0 before any)."""
    response = public_client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200
    found = re.search(
        rf'^tenantry_db_connections_recycled_total\{{alias="{alias}"\}} (\S+)$', response.content.decode(), re.M
    )
    return float(found.group(1)) if found else 0.0


@pytest.mark.usefixtures("open_db")
def test_connection_is_replaced_once_a_request_ends_past_the_schema_limit(orgs, settings) -> None:
    settings.TENANT_CONN_MAX_SCHEMAS = 3
    settings.METRICS_TOKEN = METRICS_TOKEN
    conn = connections["default"]
    conn.close()
    recycled_before = _recycled_total("default")
    first = backend_of(conn)

    # Three distinct schemas (one of them twice): at the limit, not past it.
    for org, owner in [orgs[0], orgs[1], orgs[0], orgs[2]]:
        _list_projects(org, owner)
        assert backend_of(conn) == first

    _list_projects(*orgs[3])  # the fourth schema: the connection is closed when this request ends
    second = backend_of(conn)
    assert second != first

    # The count starts again on the new connection.
    for org, owner in orgs[:3]:
        _list_projects(org, owner)
        assert backend_of(conn) == second
    _list_projects(*orgs[3])
    assert backend_of(conn) != second
    assert _recycled_total("default") == recycled_before + 2


@pytest.mark.usefixtures("open_db")
def test_connection_inside_an_atomic_block_is_kept_until_the_block_ends(orgs, settings) -> None:
    settings.TENANT_CONN_MAX_SCHEMAS = 3
    conn = connections["default"]
    conn.close()
    first = backend_of(conn)
    with transaction.atomic():
        for org, owner in orgs:
            _list_projects(org, owner)
        assert backend_of(conn) == first  # past the limit, but a transaction is open
    assert backend_of(conn) == first  # nothing closes a connection between safe points
    _list_projects(*orgs[0])  # the next request's end is the next safe point
    assert backend_of(conn) != first


@pytest.mark.usefixtures("open_db")
def test_limit_zero_never_replaces_the_connection(orgs, settings) -> None:
    settings.TENANT_CONN_MAX_SCHEMAS = 0
    conn = connections["default"]
    conn.close()
    first = backend_of(conn)
    for org, owner in [*orgs, *orgs]:
        _list_projects(org, owner)
    assert backend_of(conn) == first


@pytest.mark.usefixtures("open_db")
def test_connection_is_replaced_when_a_celery_task_ends_past_the_limit(orgs, settings) -> None:
    settings.TENANT_CONN_MAX_SCHEMAS = 3
    conn = connections["default"]
    conn.close()
    first = backend_of(conn)
    for org, _ in orgs[:3]:
        with schema_context(org.schema_name):
            assert tenant_ping.apply().get()["schema"] == org.schema_name
        assert backend_of(conn) == first
    with schema_context(orgs[3][0].schema_name):
        assert tenant_ping.apply().get()["schema"] == orgs[3][0].schema_name
    assert backend_of(conn) != first


@pytest.mark.django_db
def test_connection_in_the_tests_own_transaction_is_never_closed(
    tenant_a, tenant_b, owner_a, member_factory, settings
) -> None:
    """The usual test: everything inside one atomic block that is rolled back at the end. Closing the
    connection here would lose the transaction; the limit is passed and the connection stays."""
    settings.TENANT_CONN_MAX_SCHEMAS = 1
    conn = connections["default"]
    first = backend_of(conn)
    owner_b = member_factory(tenant_b, role="owner")
    for org, user in [(tenant_a, owner_a), (tenant_b, owner_b), (tenant_a, owner_a)]:
        _list_projects(org, user)
    assert backend_of(conn) == first
    assert User.objects.filter(pk=owner_b.pk).exists()  # the transaction is still the same one
