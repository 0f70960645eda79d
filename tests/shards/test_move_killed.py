"""A `tenant move` process killed (SIGKILL) while it holds the organization's writes: its table locks
go with its connection, the pause runs out after TENANT_MOVE_PAUSE_MAX_SECONDS and writes go on
where the organization still is; running the move again finishes it with every row once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import psycopg
from psycopg import sql

from tenants.models import Tenant, TenantMove
from tenants.moves import _name, _step_copy, _step_schema, tenant_move
from tenants.resolution import resolution_cache_invalidate
from tenants.shards import shard_conninfo
from tests.shards.support import SHARD, Committed
from tests.shards.test_move import _names, _seed
from tests.support.clients import ROOT, database_url


def _source_locked(schema: str) -> bool:
    """Whether some session holds the move's write lock on the organization's task table."""
    with psycopg.connect(shard_conninfo("default"), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = to_regclass(%s) AND mode = 'ShareRowExclusiveLock' "
            "AND granted",
            [f'"{schema}".projects_task'],
        ).fetchone()
        return bool(row and row[0])


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.1)


def test_a_mover_killed_while_writes_are_paused_releases_them_and_the_move_resumes(
    committed: Committed, settings: Any
) -> None:
    org = committed.org("killed", shard="default")
    api, pid = _seed(org, 200)
    move = TenantMove.objects.create(tenant=org, source="default", target=SHARD, schema_name=org.schema_name)
    _step_schema(move, None)
    _step_copy(move, None, max_lag_bytes=1 << 20, timeout=60)
    # The target stops following (its subscription disabled) and the source gains a row, so the
    # mover's last step waits for a catch-up that does not come, holding the pause and the locks.
    with psycopg.connect(shard_conninfo(SHARD), autocommit=True) as target:
        target.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(sql.Identifier(_name(move))))
    r = api.post(f"/api/v1/projects/{pid}/tasks/", {"title": "before the kill"})
    assert r.status_code == 201, r.content

    mover = subprocess.Popen(
        [sys.executable, "manage.py", "tenant", "move", org.slug, "--to", SHARD, "--catchup-timeout", "300"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "TENANT_SHARDS": f"{SHARD}={settings.TENANT_SHARDS[SHARD]}",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait(lambda: _source_locked(org.schema_name), 60, "the mover did not lock the source")
        assert Tenant.objects.get(pk=org.pk).writes_paused_at is not None
        os.killpg(mover.pid, signal.SIGKILL)
    finally:
        if mover.poll() is None:
            os.killpg(mover.pid, signal.SIGKILL)
        mover.wait(30)

    # Its connection died with it, and its locks with the connection.
    _wait(lambda: not _source_locked(org.schema_name), 30, "the killed mover's locks were not released")
    settings.TENANT_MOVE_PAUSE_MAX_SECONDS = 1.5
    resolution_cache_invalidate()
    paused_at = Tenant.objects.get(pk=org.pk).writes_paused_at
    assert paused_at is not None  # nobody cleared it: the process that would have is gone
    r = api.post(f"/api/v1/projects/{pid}/tasks/", {"title": "during the left-over pause"})
    if r.status_code == 503:  # the pause is younger than the limit: wait for it to run out
        assert r.json()["error"]["code"] == "tenant_moving"
        time.sleep(1.6)
        r = api.post(f"/api/v1/projects/{pid}/tasks/", {"title": "during the left-over pause"})
    assert r.status_code == 201, r.content  # on the source, where the routing row still points
    assert Tenant.objects.get(pk=org.pk).shard == "default"

    # Run again: it resumes the same move and finishes it; every row is on the target once.
    with psycopg.connect(shard_conninfo(SHARD), autocommit=True) as target:
        target.execute(sql.SQL("ALTER SUBSCRIPTION {} ENABLE").format(sql.Identifier(_name(move))))
    settings.TENANT_MOVE_PAUSE_MAX_SECONDS = 60.0
    finished = tenant_move(tenant=org, target=SHARD, catchup_timeout=30)
    assert finished.pk == move.pk
    assert finished.state == TenantMove.State.DONE
    assert Tenant.objects.get(pk=org.pk).shard == SHARD
    on_target = _names(SHARD, org.schema_name)
    expected = [f"seed-{i:04d}" for i in range(200)] + ["before the kill", "during the left-over pause"]
    assert sorted(on_target) == sorted(expected)
