"""Shard test support: the second shard's alias and the committed-data helper (tests/shards/conftest.py
holds the fixtures)."""

from __future__ import annotations

import contextlib
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections
from psycopg import sql

from shared_apps.accounts.models import Membership, User
from shared_apps.accounts.services import organization_provision
from tenants.models import Domain, Tenant
from tenants.routing import shard_activate
from tenants.services import schema_drop
from tenants.shard_config import DEFAULT_SHARD
from tests.factories import TEST_PASSWORD

SHARD = "shard2"


class Committed:
    """Organizations and users a test creates with committed transactions, removed afterwards."""

    def __init__(self) -> None:
        self.tenants: list[int] = []
        self.emails: list[str] = []

    def org(self, slug: str, *, shard: str | None = None) -> Tenant:
        slug = f"{slug}-{uuid.uuid4().hex[:6]}"
        owner = f"owner@{slug}.test"
        tenant = organization_provision(
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
        from tenants.models import TenantMove
        from tenants.moves import tenant_move_abort

        for tenant in Tenant.objects.filter(pk__in=self.tenants):
            if TenantMove.objects.filter(tenant=tenant, state__in=TenantMove.ACTIVE_STATES).exists():
                with contextlib.suppress(ValidationError):  # a flipped move cannot be undone
                    tenant_move_abort(tenant=tenant)  # a test that failed mid-move: drop its replication
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
