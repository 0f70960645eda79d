"""`tenant move`: an organization moves to the other cluster while a client keeps writing and
reading; nothing is lost or written twice, reads never fail, and abort/resume leave it serving."""

from __future__ import annotations

import io
import logging
import threading
import time
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connections

from shared_apps.accounts.models import User
from tenants.models import Tenant, TenantMove
from tenants.moves import _step_copy, _step_schema, tenant_move, tenant_move_abort, tenant_move_drop_sources
from tenants.shards import shard_conninfo
from tests.shards.support import SHARD, Committed
from tests.support.api import Api


def _names(alias: str, schema: str) -> list[str]:
    """Task titles in the organization's schema on a shard, read over a connection of its own."""
    with psycopg.connect(shard_conninfo(alias), autocommit=True) as conn:
        return [r[0] for r in conn.execute(f'SELECT title FROM "{schema}".projects_task ORDER BY id').fetchall()]


def _schema_on(alias: str, schema: str) -> bool:
    with psycopg.connect(shard_conninfo(alias), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone() is not None


def _seed(org: Tenant, n: int) -> tuple[Api, int]:
    """A project (through the API) with `n` tasks seed-0000... (written directly); (owner's api, project id)."""
    from tenant_apps.projects.models import Task
    from tenants.routing import tenant_activate

    owner = User.objects.get(email=f"owner@{org.slug}.test")
    api = Api(org, user=owner)
    r = api.post("/api/v1/projects/", {"name": "Moving"})
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    with tenant_activate(org):
        Task.objects.bulk_create([Task(project_id=pid, title=f"seed-{i:04d}") for i in range(n)])
    return api, pid


class Client(threading.Thread):
    """Writes (one new project each, retried on 503 + Retry-After) and reads, until stopped."""

    def __init__(self, org: Tenant, user: User, project: int, *, write: bool) -> None:
        super().__init__(daemon=True)
        self.org, self.user, self.write = org, user, write
        self.path = f"/api/v1/projects/{project}/tasks/"
        self.stop = threading.Event()
        self.written: list[str] = []
        self.statuses: list[int] = []
        self.retries = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            api = Api(self.org, user=self.user)
            i = 0
            while not self.stop.is_set():
                if self.write:
                    name = f"live-{i:05d}"
                    while True:
                        r = api.post(self.path, {"title": name})
                        if r.status_code == 503 and r.headers.get("Retry-After"):
                            self.retries += 1
                            time.sleep(0.05)
                            continue
                        if r.status_code == 429:  # the plan's API rate: wait as told, not a move effect
                            if self.stop.wait(float(r.headers.get("Retry-After", "1"))):
                                return  # stopped while throttled: this write was refused, never made
                            continue
                        break
                    self.statuses.append(r.status_code)
                    if r.status_code == 201:
                        self.written.append(name)
                    i += 1
                else:
                    r = api.get(self.path)
                    if r.status_code == 429:
                        self.stop.wait(float(r.headers.get("Retry-After", "1")))
                        continue
                    self.statuses.append(r.status_code)
                time.sleep(0.05)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connections.close_all()


def test_move_while_writing_and_reading_loses_nothing_and_duplicates_nothing(
    committed: Committed, settings: Any
) -> None:
    # The client runs at ~40 requests/s: the free plan's request budget (120 a minute) is not under test.
    free = settings.BILLING_PLANS["free"]
    settings.BILLING_PLANS = {**settings.BILLING_PLANS, "free": {**free, "limits": {**free["limits"], "api_rpm": None}}}
    org = committed.org("mover", shard="default")
    _, pid = _seed(org, 1500)
    owner = User.objects.get(email=f"owner@{org.slug}.test")
    writer, reader = Client(org, owner, pid, write=True), Client(org, owner, pid, write=False)
    writer.start()
    reader.start()
    time.sleep(0.5)
    steps: list[str] = []
    move = tenant_move(tenant=org, target=SHARD, progress=lambda step, _detail: steps.append(step))
    time.sleep(1.5)  # writes and reads go on against the new shard
    writer.stop.set()
    reader.stop.set()
    writer.join(30)
    reader.join(30)
    # Both have finished: what the writer saw and what the target holds are read after its last write.
    assert not writer.is_alive()
    assert not reader.is_alive()
    assert writer.error is None, (writer.error, reader.error)
    assert reader.error is None, (writer.error, reader.error)

    assert move.state == TenantMove.State.DONE
    assert Tenant.objects.get(pk=org.pk).shard == SHARD
    assert Tenant.objects.get(pk=org.pk).writes_paused_at is None
    assert steps[:1] == ["start"]
    assert "flip" in steps
    assert steps[-1] == "done"
    assert move.paused_seconds is not None
    assert move.paused_seconds < 5
    # Every write the client saw succeed is on the target exactly once, nothing else is there.
    on_target = _names(SHARD, org.schema_name)
    assert len(on_target) == len(set(on_target))
    assert set(writer.statuses) == {201}, writer.statuses
    assert sorted(on_target) == sorted([f"seed-{i:04d}" for i in range(1500)] + writer.written)
    assert writer.written, "the writer wrote nothing during the test"
    assert set(reader.statuses) == {200}, reader.statuses
    # The old copy is kept, refusing writes, until its retention passes.
    assert _schema_on("default", org.schema_name)
    with psycopg.connect(shard_conninfo("default"), autocommit=True) as conn, pytest.raises(psycopg.Error) as refused:
        conn.execute(f"UPDATE \"{org.schema_name}\".projects_task SET title = 'late'")
    assert "tenantry_moved_away" in str(refused.value)
    # New rows on the target get fresh ids (sequences moved past the copied ones).
    r = Api(org, user=owner).post(f"/api/v1/projects/{pid}/tasks/", {"title": "after"})
    assert r.status_code == 201, r.content
    with psycopg.connect(shard_conninfo(SHARD), autocommit=True) as conn:
        top = conn.execute(f'SELECT max(id) FROM "{org.schema_name}".projects_task WHERE title <> %s', ["after"])
        assert r.json()["id"] > top.fetchone()[0]


def test_moves_back_and_forth_replace_the_kept_copy(committed: Committed) -> None:
    org = committed.org("pingpong", shard=SHARD)
    _seed(org, 5)
    for target in ("default", SHARD, "default"):
        tenant_move(tenant=org, target=target)
        assert Tenant.objects.get(pk=org.pk).shard == target
        assert _names(target, org.schema_name) == [f"seed-{i:04d}" for i in range(5)]
    owner = User.objects.get(email=f"owner@{org.slug}.test")
    assert Api(org, user=owner).get("/api/v1/projects/").json()["results"]
    # Retention: nothing dropped before it passes, the old copy on the other shard after.
    assert tenant_move_drop_sources() == []
    from django.utils import timezone

    later = timezone.now() + __import__("datetime").timedelta(days=30)
    dropped = tenant_move_drop_sources(now=later)
    assert dropped == [f"{org.schema_name}@{SHARD}"]
    assert not _schema_on(SHARD, org.schema_name)
    assert _schema_on("default", org.schema_name)  # the live one


def test_abort_after_copying_leaves_it_serving_where_it_was(committed: Committed) -> None:
    org = committed.org("abort", shard="default")
    api, pid = _seed(org, 3)
    move = TenantMove.objects.create(tenant=org, schema_name=org.schema_name, source="default", target=SHARD)
    _step_schema(move, None)
    _step_copy(move, None, max_lag_bytes=8 << 20, timeout=60)
    assert _names(SHARD, org.schema_name) == [f"seed-{i:04d}" for i in range(3)]
    # A second move of the same organization is refused while this one is unfinished.
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as busy:
        tenant_move(tenant=org, target="default")
    assert busy.value.code in ("already_there", "move_in_progress")

    tenant_move_abort(tenant=org)
    assert Tenant.objects.get(pk=org.pk).shard == "default"
    assert not _schema_on(SHARD, org.schema_name)
    with psycopg.connect(shard_conninfo(SHARD), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_subscription WHERE subname LIKE 'tm_%'").fetchone()[0] == 0
    with psycopg.connect(shard_conninfo("default"), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_publication WHERE pubname LIKE 'tm_%'").fetchone()[0] == 0
    r = api.post(f"/api/v1/projects/{pid}/tasks/", {"title": "still here"})
    assert r.status_code == 201, r.content
    assert TenantMove.objects.get(pk=move.pk).state == TenantMove.State.ABORTED


def test_an_interrupted_move_resumes_from_its_step(committed: Committed) -> None:
    org = committed.org("resume", shard="default")
    _seed(org, 4)
    move = TenantMove.objects.create(tenant=org, schema_name=org.schema_name, source="default", target=SHARD)
    _step_schema(move, None)  # ... and the operator's terminal went away here
    assert TenantMove.objects.get(pk=move.pk).state == TenantMove.State.COPYING
    steps: list[str] = []
    resumed = tenant_move(tenant=org, target=SHARD, progress=lambda step, _detail: steps.append(step))
    assert resumed.pk == move.pk
    assert steps[0] == "resume"
    assert resumed.state == TenantMove.State.DONE
    assert _names(SHARD, org.schema_name) == [f"seed-{i:04d}" for i in range(4)]


def test_command_moves_lists_and_audits(committed: Committed) -> None:
    org = committed.org("cmd", shard="default")
    out = io.StringIO()
    call_command("tenant", "move", org.slug, "--to", SHARD, stdout=out)
    text = out.getvalue()
    assert f"{org.slug}: moved default -> {SHARD}" in text
    assert "rows verified" in text
    for step in ("copy", "pause", "verify", "flip", "done"):
        assert f" {step}" in text
    listing = io.StringIO()
    call_command("tenant", "list", stdout=listing)
    header, *rows = listing.getvalue().splitlines()
    assert header.split()[-1] == "SHARD"
    assert any(line.split()[0] == org.slug and line.split()[-1] == SHARD for line in rows)
    from django_tenants.utils import schema_context

    from tenant_apps.audit.models import AuditEvent
    from tenants.routing import shard_activate

    with shard_activate(SHARD), schema_context(org.schema_name):
        event = AuditEvent.objects.get(action="organization.moved")
    assert event.data["from"] == "default"
    assert event.data["to"] == SHARD
    assert event.data["via"] == "cli"
    bad = io.StringIO()
    with pytest.raises(Exception, match="already on"):
        call_command("tenant", "move", org.slug, "--to", SHARD, stdout=bad)
    with pytest.raises(Exception, match=r"unknown_shard"):
        call_command("tenant", "move", org.slug, "--to", "nowhere", stdout=bad)


def test_a_write_goes_on_as_soon_as_the_pause_ends_not_at_the_next_resolution_check(
    committed: Committed, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process's cached snapshot may still say "paused" for up to the resolution recheck
    interval after a move flips or aborts; the write reads the routing row and goes on at once."""
    from django.utils import timezone

    from tenant_apps.projects.models import Task
    from tenants.resolution import resolution_cache_forget_local
    from tenants.routing import tenant_activate

    settings.TENANT_RESOLUTION_RECHECK_SECONDS = 3600  # no generation check in this process
    org = committed.org("paused", shard=SHARD)
    api, pid = _seed(org, 0)
    Tenant.objects.filter(pk=org.pk).update(writes_paused_at=timezone.now())
    resolution_cache_forget_local()  # this process now caches the paused snapshot
    with caplog.at_level(logging.INFO):
        r = api.post(f"/api/v1/projects/{pid}/tasks/", {"title": "while paused"})
    assert r.status_code == 503, r.content
    assert r.json()["error"]["code"] == "tenant_moving"
    assert r.headers["Retry-After"]
    # An expected answer of a planned move: logged at INFO, not as a server error.
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR], caplog.text
    assert "503 tenant_moving" in caplog.text
    # The pause ends; nothing tells this process (no generation bump, no recheck for an hour).
    Tenant.objects.filter(pk=org.pk).update(writes_paused_at=None)
    r = api.post(f"/api/v1/projects/{pid}/tasks/", {"title": "after the pause"})
    assert r.status_code == 201, r.content
    with tenant_activate(Tenant.objects.get(pk=org.pk)):
        assert list(Task.objects.filter(project_id=pid).values_list("title", flat=True)) == ["after the pause"]
    # Reads never waited: the cached snapshot is used for them as before.
    assert api.get(f"/api/v1/projects/{pid}/tasks/").status_code == 200
