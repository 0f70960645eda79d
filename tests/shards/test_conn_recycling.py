"""Connection recycling on a shard: requests for organizations on the second cluster use that shard's
connection, which is replaced once it has used more tenant schemas than TENANT_CONN_MAX_SCHEMAS; the
control database's connection, which only used `public` meanwhile, is kept (D138)."""

from __future__ import annotations

from typing import Any

from django.db import connections

from shared_apps.accounts.models import User
from tenants.models import SpareSchema
from tenants.services import schema_pool_refill
from tests.shards.support import SHARD, Committed
from tests.support.api import Api


def backend_pid(alias: str) -> int:
    wrapper: Any = connections[alias]
    wrapper.set_schema_to_public()  # the probe itself uses no tenant schema
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _list_projects(org: Any) -> None:
    owner = User.objects.get(email=f"owner@{org.slug}.test")
    response = Api(org, user=owner).get("/api/v1/projects/")
    assert response.status_code == 200, response.content


def test_shard_connection_is_replaced_past_the_limit_and_the_control_one_is_kept(
    committed: Committed, settings
) -> None:
    spares = SpareSchema.objects.filter(shard=SHARD).count()
    orgs = [committed.org(f"recycle{i}", shard=SHARD) for i in range(3)]
    assert {o.shard for o in orgs} == {SHARD}
    settings.TENANT_CONN_MAX_SCHEMAS = 2
    # Fresh connections: earlier tests of the session may have used tenant schemas on them.
    connections[SHARD].close()
    connections["default"].close()
    shard_first, control_first = backend_pid(SHARD), backend_pid("default")

    for org in orgs[:2]:
        _list_projects(org)
        assert backend_pid(SHARD) == shard_first
    _list_projects(orgs[2])  # a third schema on the shard's connection: closed when the request ends

    assert backend_pid(SHARD) != shard_first
    assert backend_pid("default") == control_first
    schema_pool_refill(size=spares, shard=SHARD)  # leave the shard's pool as the other tests found it
