"""An organization on the second cluster: requests, tasks and commands run on that cluster's
connection, global rows stay in the control database, and nothing lands on the other shard."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connections
from psycopg import sql

from shared_apps.accounts.models import Membership, Role, User
from shared_apps.accounts.services import membership_add
from tenants.models import Tenant
from tenants.resolution import tenant_for_host
from tenants.routing import current_shard, shard_activate
from tenants.shards import shard_conninfo, shard_for_new_tenant
from tests.factories import TEST_PASSWORD
from tests.shards.support import SHARD, Committed
from tests.support.api import Api
from tests.support.clients import host_of


def _rows(alias: str, schema: str, table: str) -> int | None:
    """Rows in schema.table on a shard, read over a connection of its own (None: no such table)."""
    with psycopg.connect(shard_conninfo(alias), autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", [f'"{schema}".{table}']).fetchone()[0]
        if exists is None:
            return None
        return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))).fetchone()[0]


def test_api_on_a_shard_writes_its_schema_there_and_global_rows_in_control(committed: Committed, wait_until) -> None:
    org = committed.org("far", shard=SHARD)
    assert Tenant.objects.get(pk=org.pk).shard == SHARD
    # The schema exists on the second cluster only.
    assert _rows(SHARD, org.schema_name, "projects_project") == 0
    assert _rows("default", org.schema_name, "projects_project") is None

    anon = Api(org)
    r = anon.post("/api/v1/auth/token/", {"email": f"owner@{org.slug}.test", "password": TEST_PASSWORD, "name": "cli"})
    assert r.status_code == 201, r.content
    owner = Api(org, token=r.json()["token"])
    r = owner.post("/api/v1/projects/", {"name": "Apollo", "description": "Moon"})
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    bob = committed.user(f"bob@{org.slug}.test")
    membership_add(user=bob, tenant_id=org.pk, role=Role.MEMBER)
    r = owner.post(f"/api/v1/projects/{pid}/permissions/", {"user_id": bob.pk, "permissions": ["view"]})
    assert r.status_code == 200, r.content
    r = Api(org, user=bob).get("/api/v1/projects/")
    assert r.status_code == 200, r.content
    assert [p["id"] for p in r.json()["results"]] == [pid]

    # Tenant rows on the shard, none in the control database; global rows in the control database.
    assert _rows(SHARD, org.schema_name, "projects_project") == 1
    assert _rows(SHARD, org.schema_name, "tokens_apitoken") == 1
    assert (_rows(SHARD, org.schema_name, "audit_auditevent") or 0) >= 2
    assert Membership.objects.filter(tenant=org).count() == 2
    with psycopg.connect(shard_conninfo(SHARD), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM public.accounts_membership").fetchone()[0] == 0
    # The shard's read-only copy of users follows the control database (logical replication).
    wait_until(lambda: _user_on_shard(bob.pk), timeout=20)
    # The request left this thread on the control database.
    assert current_shard() == "default"
    assert connections["default"].alias == "default"


def _user_on_shard(user_id: int) -> bool:
    with psycopg.connect(shard_conninfo(SHARD), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM public.accounts_user WHERE id = %s", [user_id]).fetchone() is not None


def test_resolution_returns_the_shard_with_no_query_when_warm(committed: Committed, django_assert_num_queries) -> None:
    org = committed.org("res", shard=SHARD)
    host = host_of(org)
    assert tenant_for_host(host=host).shard == SHARD
    with django_assert_num_queries(0):
        assert tenant_for_host(host=host).shard == SHARD


def test_another_organizations_host_on_another_shard_is_a_404_for_its_projects(committed: Committed) -> None:
    near = committed.org("near", shard="default")
    far = committed.org("far", shard=SHARD)
    owner_far = User.objects.get(email=f"owner@{far.slug}.test")
    r = Api(far, user=owner_far).post("/api/v1/projects/", {"name": "Far away"})
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    # The far owner is no member of the near organization: 404, and nothing written there.
    r = Api(near, user=owner_far).get(f"/api/v1/projects/{pid}/")
    assert r.status_code == 404
    assert _rows("default", near.schema_name, "projects_project") == 0


def test_atomic_on_a_shard_rolls_back_global_and_tenant_writes_together(committed: Committed) -> None:
    from django.db import transaction

    from tenant_apps.projects.models import Project
    from tenants.routing import tenant_activate

    org = committed.org("atomic", shard=SHARD)

    def write_then_abort() -> None:
        with tenant_activate(org), transaction.atomic():
            Project.objects.create(name="never")
            Tenant.objects.select_for_update().filter(pk=org.pk).update(name="Renamed")  # control, locked
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        write_then_abort()
    assert Tenant.objects.get(pk=org.pk).name != "Renamed"
    with shard_activate(SHARD):
        pass
    assert _rows(SHARD, org.schema_name, "projects_project") == 0


def test_placement_prefers_the_emptier_shard(committed: Committed) -> None:
    # The control database already holds the suite's organizations; the second shard holds none
    # of its own beyond what these tests create and remove.
    counts = {s: Tenant.objects.filter(shard=s).count() for s in ("default", SHARD)}
    expected = SHARD if counts[SHARD] < counts["default"] else "default"
    assert shard_for_new_tenant() == expected
    org = committed.org("placed")
    assert org.shard == expected
