"""Tenancy through pgbouncer in transaction mode (pool of 2 server connections).

Many client connections for two tenants are interleaved over the two server connections. With
TENANT_SEARCH_PATH_MODE="transaction" every read sees only its own tenant's rows; the control test
shows that django-tenants' session-level `SET search_path` does leak in the same set-up, so these
tests can tell the difference.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import Group
from django.db import connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from tenants.db.base import DatabaseWrapper
from tenants.models import Tenant
from tests.pgbouncer.support import POOL_SIZE, using_connection
from tests.support.clients import host_of

# The default connection holds the usual per-test transaction (rolled back); the threads' own
# connections go through pgbouncer and commit, so the fixture removes what they wrote.
pytestmark = pytest.mark.django_db

THREADS = 8
ROUNDS = 25


@pytest.fixture
def two_tenants(bouncer_connection) -> Iterator[list[Tenant]]:
    tenants = list(Tenant.objects.filter(slug__in=["alpha", "beta"]).order_by("slug"))
    assert len(tenants) == 2
    yield tenants
    cleaner = bouncer_connection("transaction")
    with using_connection(cleaner):
        for tenant in tenants:
            cleaner.set_tenant(tenant)
            Group.objects.filter(name__startswith="pgb-").delete()
        cleaner.set_schema_to_public()
        Group.objects.filter(name__startswith="pgb-").delete()


def _current(wrapper: DatabaseWrapper) -> tuple[str, int]:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT (current_schemas(false))[1], pg_backend_pid()")
        schema, pid = cursor.fetchone()
    return schema, pid


def test_interleaved_tenants_never_read_each_other(two_tenants, bouncer_connection) -> None:
    errors: list[str] = []
    backend_pids: set[int] = set()
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker(n: int) -> int:
        wrapper = bouncer_connection("transaction")
        checked = 0
        with using_connection(wrapper):
            barrier.wait()
            for i in range(ROUNDS):
                tenant = two_tenants[(n + i) % 2]
                other = two_tenants[(n + i + 1) % 2]
                wrapper.set_tenant(tenant)
                mine = f"pgb-{tenant.schema_name}-{uuid.uuid4().hex}"
                # A write in a transaction, then reads in autocommit (each its own server transaction).
                with transaction.atomic():
                    Group.objects.create(name=mine)
                names = set(Group.objects.filter(name__startswith="pgb-").values_list("name", flat=True))
                schema, pid = _current(wrapper)
                with lock:
                    backend_pids.add(pid)
                if schema != tenant.schema_name:
                    errors.append(f"thread {n}: search path {schema}, expected {tenant.schema_name}")
                if mine not in names:
                    errors.append(f"thread {n}: own row {mine} not visible")
                leaked = [name for name in names if not name.startswith(f"pgb-{tenant.schema_name}-")]
                if leaked:
                    errors.append(f"thread {n}: {tenant.schema_name} read {leaked[:3]}")
                # Switching tenant inside one transaction re-applies the path for that transaction.
                with transaction.atomic():
                    wrapper.set_tenant(other)
                    inside = set(Group.objects.filter(name__startswith="pgb-").values_list("name", flat=True))
                    if any(not name.startswith(f"pgb-{other.schema_name}-") for name in inside):
                        errors.append(f"thread {n}: switch to {other.schema_name} inside atomic leaked")
                checked += 1
        return checked

    with ThreadPoolExecutor(THREADS) as pool:
        done = sum(pool.map(worker, range(THREADS)))

    assert done == THREADS * ROUNDS
    assert errors == []
    # Eight clients really shared the two server connections.
    assert 1 <= len(backend_pids) <= POOL_SIZE
    for tenant in two_tenants:
        with schema_context(tenant.schema_name):
            own = Group.objects.filter(name__startswith=f"pgb-{tenant.schema_name}-").count()
            foreign = Group.objects.filter(name__startswith="pgb-").exclude(
                name__startswith=f"pgb-{tenant.schema_name}-"
            )
            assert own == THREADS * ROUNDS // 2
            assert not foreign.exists()


@override_settings(ROOT_URLCONF="tests.pgbouncer.urls")
def test_requests_through_the_test_client_stay_in_their_tenant(two_tenants, bouncer_connection) -> None:
    errors: list[str] = []
    pids: set[int] = set()
    lock = threading.Lock()

    def worker(n: int) -> None:
        wrapper = bouncer_connection("transaction")
        with using_connection(wrapper):
            clients = {t.schema_name: Client(HTTP_HOST=host_of(t)) for t in two_tenants}
            for i in range(ROUNDS):
                tenant = two_tenants[(n + i) % 2]
                response = (
                    clients[tenant.schema_name].post("/probe") if i % 3 else clients[tenant.schema_name].get("/probe")
                )
                if response.status_code != 200:
                    errors.append(f"{tenant.slug}: HTTP {response.status_code} {response.content[:200]!r}")
                    continue
                body = response.json()
                with lock:
                    pids.add(body["pid"])
                if body["current"] != tenant.schema_name:
                    errors.append(f"{tenant.slug}: ran in {body['current']}")
                leaked = [x for x in body["names"] if not x.startswith(f"pgb-{tenant.schema_name}-")]
                if leaked:
                    errors.append(f"{tenant.slug}: read {leaked[:3]}")
            wrapper.close()

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(worker, range(6)))
    assert errors == []
    assert 1 <= len(pids) <= POOL_SIZE


def _alternate(make: Callable[[str], DatabaseWrapper], mode: str, tenants: list[Tenant]) -> list[str]:
    """Two clients, one per tenant, taking turns over the pool; returns the wrong schemas seen."""
    first, second = make(mode), make(mode)
    first.set_tenant(tenants[0])
    second.set_tenant(tenants[1])
    wrong = []
    for _ in range(10):
        for wrapper, tenant in ((first, tenants[0]), (second, tenants[1])):
            schema, _pid = _current(wrapper)
            if schema != tenant.schema_name:
                wrong.append(schema)
    return wrong


def test_session_search_path_leaks_behind_transaction_pooling(two_tenants, bouncer_connection) -> None:
    """Control: django-tenants' session-level SET (with TENANT_LIMIT_SET_CALLS) is not safe here."""
    assert _alternate(bouncer_connection, "session", two_tenants), "expected the session mode to leak"


def test_transaction_search_path_does_not_leak(two_tenants, bouncer_connection) -> None:
    assert _alternate(bouncer_connection, "transaction", two_tenants) == []


def test_cursor_results_are_the_statements_own(two_tenants, bouncer_connection) -> None:
    """The set_config prefix must not change rowcount, RETURNING rows or executemany."""
    wrapper = bouncer_connection("transaction")
    tenant = two_tenants[0]
    with using_connection(wrapper):
        wrapper.set_tenant(tenant)
        created = Group.objects.bulk_create([Group(name=f"pgb-{tenant.schema_name}-bulk-{i}") for i in range(3)])
        assert all(g.pk for g in created)
        updated = Group.objects.filter(pk__in=[g.pk for g in created[:2]]).update(
            name=Concat(F("name"), Value("-renamed"))
        )
        assert updated == 2
        with wrapper.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO auth_group (name) VALUES (%s)",
                [(f"pgb-{tenant.schema_name}-many-{i}",) for i in range(4)],
            )
        with transaction.atomic(), wrapper.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO auth_group (name) VALUES (%s)",
                [(f"pgb-{tenant.schema_name}-many-atomic-{i}",) for i in range(2)],
            )
        assert Group.objects.filter(name__startswith=f"pgb-{tenant.schema_name}-many-").count() == 6
        deleted, _ = Group.objects.filter(name__startswith=f"pgb-{tenant.schema_name}-many-atomic-").delete()
        assert deleted == 2
    # Nothing of it reached the other tenant or public.
    with schema_context(two_tenants[1].schema_name):
        assert not Group.objects.filter(name__startswith=f"pgb-{tenant.schema_name}-").exists()
    assert connections["default"] is not wrapper
