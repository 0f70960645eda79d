"""Two real PostgreSQL clusters: the suite's own (the control database, also the shard "default")
and a second one that `make test` starts (deploy/localstack.py, TENANTRY_TEST_SHARD_URL).

These tests need committed data (logical replication only sees committed rows, and a moved
organization is read through other connections), so they do not run inside the per-test rolled-back
transaction: `committed` opens the database for the test and removes what the test created.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connections
from psycopg import sql

from tenants.models import SpareSchema
from tenants.routing import shard_register, shard_unregister
from tenants.services import schema_pool_refill
from tenants.shard_config import DEFAULT_SHARD
from tenants.shards import GLOBAL_PUBLICATION, shard_bootstrap, shard_raw_connection, shard_replication_teardown
from tests.shards.support import SHARD, Committed


def _shard_server_url() -> str:
    url = os.environ.get("TENANTRY_TEST_SHARD_URL")
    if not url:
        pytest.fail("tests/shards need a second PostgreSQL cluster: run them with `make test`")
    return url


# Package scope: the shard is registered only while tests/shards run, so that no later test of the
# suite sees a second shard (placement would start sending new organizations there).
@pytest.fixture(scope="package")
def shard2(django_db_setup, django_db_blocker) -> Iterator[str]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """A fresh database on the second cluster, registered as the shard "shard2", bootstrapped (public
    tables, the replicated copy of users) with two spare schemas. Everything is dropped afterwards."""
    server = _shard_server_url()
    if not connections["default"].settings_dict["NAME"].startswith("test_"):
        # pytest-django creates the test database only when a collected test is marked django_db
        # (tests/shards/test_config.py is): never commit into a real database.
        pytest.fail("no test database was set up; run tests/shards as a directory")
    name = f"tenantry_test_shard_{uuid.uuid4().hex[:8]}"
    admin_url = server.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with django_db_blocker.unblock():
        shard_register(alias=SHARD, url=server.rsplit("/", 1)[0] + "/" + name)
        try:
            shard_bootstrap(alias=SHARD)
            schema_pool_refill(size=2, shard=SHARD)
            yield SHARD
        finally:
            for spare in SpareSchema.objects.filter(shard=SHARD):
                spare.delete()
            shard_replication_teardown(alias=SHARD)
            with shard_raw_connection(DEFAULT_SHARD) as control:
                control.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(GLOBAL_PUBLICATION)))
            shard_unregister(alias=SHARD)
            connections["default"].set_schema_to_public()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def committed(shard2: str, django_db_blocker) -> Iterator[Committed]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    made = Committed()
    with django_db_blocker.unblock():
        try:
            yield made
        finally:
            connections["default"].set_schema_to_public()
            made.cleanup()
