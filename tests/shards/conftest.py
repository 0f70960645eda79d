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
from django.conf import settings
from django.db import connections
from psycopg import sql

from shared_apps.accounts.models import Membership, User
from tenants.models import Domain, SpareSchema, Tenant
from tenants.routing import shard_activate, shard_register, shard_unregister
from tenants.services import schema_drop, schema_pool_refill, tenant_provision
from tenants.shard_config import DEFAULT_SHARD
from tenants.shards import GLOBAL_PUBLICATION, shard_bootstrap, shard_raw_connection, shard_replication_teardown
from tests.factories import TEST_PASSWORD

SHARD = "shard2"


def _shard_server_url() -> str:
    url = os.environ.get("TENANTRY_TEST_SHARD_URL")
    if not url:
        pytest.fail("tests/shards need a second PostgreSQL cluster: run them with `make test`")
    return url


# Package scope: the shard is registered only while tests/shards run, so that no later test of the
# suite sees a second shard (placement would start sending new organizations there).
@pytest.fixture(scope="package")
def shard2(django_db_setup, django_db_blocker) -> Iterator[str]:  # type: ignore[no-untyped-def]
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


class Committed:
    """Organizations and users a test creates with committed transactions, removed afterwards."""

    def __init__(self) -> None:
        self.tenants: list[int] = []
        self.emails: list[str] = []

    def org(self, slug: str, *, shard: str | None = None) -> Tenant:
        slug = f"{slug}-{uuid.uuid4().hex[:6]}"
        owner = f"owner@{slug}.test"
        tenant = tenant_provision(
            slug=slug, name=slug.title(), owner_email=owner, owner_password=TEST_PASSWORD, shard=shard
        )
        self.tenants.append(tenant.pk)
        self.emails.append(owner)
        return tenant

    def user(self, email: str) -> User:
        from tests.factories import UserFactory

        user: User = UserFactory(email=email)  # type: ignore[assignment]
        self.emails.append(email)
        return user

    def cleanup(self) -> None:
        for tenant in Tenant.objects.filter(pk__in=self.tenants):
            Membership.objects.filter(tenant=tenant).delete()
            Domain.objects.filter(tenant=tenant).delete()
            Tenant.objects.filter(pk=tenant.pk).delete()
            for shard in {tenant.shard, *settings.TENANT_SHARDS, DEFAULT_SHARD}:
                with shard_activate(shard):
                    schema_drop(schema_name=tenant.schema_name)
        # Raw: the collector would look for tenant rows in public; the test removed the schemas above.
        ids = list(User.objects.filter(email__in=self.emails).values_list("pk", flat=True))
        with connections["default"].cursor() as cursor:
            cursor.execute(
                """
                SELECT t.relname, a.attname FROM pg_constraint k
                  JOIN pg_class t ON t.oid = k.conrelid
                  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
                 WHERE k.contype = 'f' AND k.confrelid = 'public.accounts_user'::regclass
                   AND t.relnamespace = 'public'::regnamespace
                """
            )
            for table, column in cursor.fetchall():
                cursor.execute(
                    sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)")
                    .format(sql.Identifier("public", table), sql.Identifier(column))
                    .as_string(None),
                    [ids],
                )
        User.objects.filter(pk__in=ids)._raw_delete(User.objects.db)


@pytest.fixture
def committed(shard2: str, django_db_blocker) -> Iterator[Committed]:  # type: ignore[no-untyped-def]
    made = Committed()
    with django_db_blocker.unblock():
        try:
            yield made
        finally:
            connections["default"].set_schema_to_public()
            made.cleanup()
