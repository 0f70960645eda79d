"""Shard operations: migrate_schemas over both clusters, the references check, workers waiting for a
moving organization, and the users copy on the second cluster."""

from __future__ import annotations

import io
import threading
import time

import psycopg
from django.core.management import call_command
from django.utils import timezone

from shared_apps.accounts.models import Role, User
from shared_apps.accounts.services import membership_add
from tenants.models import Tenant
from tenants.moves import tenant_move_wait_unpaused
from tenants.routing import tenant_activate
from tenants.shards import shard_conninfo, shard_references_check
from tests.shards.support import SHARD, Committed


def test_migrate_schemas_covers_both_clusters_with_one_report(committed: Committed) -> None:
    far = committed.org("mig", shard=SHARD)
    out = io.StringIO()
    call_command("migrate_schemas", "--tenant", stdout=out)
    text = out.getvalue()
    assert "on shard default:" in text
    assert f"on shard {SHARD}:" in text
    shard_line = next(line for line in text.splitlines() if f"on shard {SHARD}:" in line)
    on_shard = Tenant.objects.filter(shard=SHARD).count()
    from tenants.models import SpareSchema

    on_shard += SpareSchema.objects.filter(shard=SHARD).count()
    assert shard_line.startswith(f"{on_shard} tenant schema(s)")
    assert "failed 0 of" in text
    assert far.schema_name  # its schema was counted on its shard, not looked for on the control database


def test_shard_check_finds_and_fixes_references_to_deleted_users(committed: Committed) -> None:
    from tenant_apps.projects.models import Project, Task

    org = committed.org("refs", shard=SHARD)
    gone = committed.user(f"gone@{org.slug}.test")
    membership_add(user=gone, tenant_id=org.pk, role=Role.MEMBER)
    with tenant_activate(org):
        project = Project.objects.create(name="P")
        Task.objects.create(project=project, title="T", assignee_id=gone.pk)
    assert shard_references_check(alias=SHARD) == []
    # The user disappears from the control database (as a raw delete would leave it).
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute("DELETE FROM accounts_membership WHERE user_id = %s", [gone.pk])
        cursor.execute("DELETE FROM accounts_user WHERE id = %s", [gone.pk])
    found = shard_references_check(alias=SHARD)
    assert [(r.schema_name, r.table, r.column, r.user_ids) for r in found] == [
        (org.schema_name, "projects_task", "assignee_id", [gone.pk])
    ]
    out = io.StringIO()
    call_command("tenant", "shard-check", SHARD, "--fix", stdout=out)
    assert "fixed 1 column(s)" in out.getvalue()
    assert shard_references_check(alias=SHARD) == []
    with tenant_activate(org):
        assert Task.objects.get(title="T").assignee_id is None  # SET_NULL, as the foreign key says


def test_workers_wait_while_a_move_holds_writes_then_follow_the_routing_row(committed: Committed) -> None:
    org = committed.org("wait", shard="default")
    Tenant.objects.filter(pk=org.pk).update(writes_paused_at=timezone.now())

    def finish_move() -> None:
        time.sleep(0.5)
        Tenant.objects.filter(pk=org.pk).update(writes_paused_at=None, shard=SHARD)
        from django.db import connections

        connections.close_all()

    mover = threading.Thread(target=finish_move)
    started = time.monotonic()
    mover.start()
    shard = tenant_move_wait_unpaused(tenant_id=org.pk, timeout=10)
    mover.join()
    assert shard == SHARD
    assert time.monotonic() - started >= 0.4
    Tenant.objects.filter(pk=org.pk).update(shard="default")  # nothing moved really: cleanup finds it


def test_users_copy_follows_updates_on_the_second_cluster(committed: Committed, wait_until) -> None:
    user = committed.user("copy@shards.test")
    User.objects.filter(pk=user.pk).update(full_name="Renamed")

    def copied() -> bool:
        with psycopg.connect(shard_conninfo(SHARD), autocommit=True) as conn:
            row = conn.execute("SELECT full_name FROM public.accounts_user WHERE id = %s", [user.pk]).fetchone()
            return row is not None and row[0] == "Renamed"

    wait_until(copied, timeout=20)
