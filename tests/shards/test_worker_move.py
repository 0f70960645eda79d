"""A real Celery worker while an organization moves: a task sent for it while its writes are paused
waits, then runs on the shard the organization moved to; tasks sent after the move run there too."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from tenants.models import Tenant, TenantMove
from tenants.moves import _pause_writes, _step_copy, _step_schema, tenant_move
from tenants.tasks import tenant_ping
from tests.shards.support import SHARD, Committed
from tests.shards.test_move import _seed
from tests.support.workers import celery_worker

pytestmark = [pytest.mark.worker]


@pytest.fixture
def shard_worker(shard2: str) -> Iterator[str]:
    """A worker that knows the second shard (TENANT_SHARDS), on a queue of its own so that the
    session's single-cluster worker never takes these tasks."""
    queue = f"shard-move-{uuid.uuid4().hex[:8]}"
    with celery_worker(name=queue, queues=queue, env={"TENANT_SHARDS": f"{shard2}={settings.TENANT_SHARDS[shard2]}"}):
        yield queue


def test_a_task_sent_during_the_pause_waits_and_runs_on_the_new_shard(committed: Committed, shard_worker: str) -> None:
    org = committed.org("worker-move", shard="default")
    _seed(org, 3)  # one project
    with schema_context(org.schema_name):
        before = tenant_ping.apply_async(queue=shard_worker).get(timeout=30)
    assert before == {"schema": org.schema_name, "shard": "default", "projects": 1}

    # The move's first steps, then its pause, as `tenant move` does them (the move resumes below).
    move = TenantMove.objects.create(tenant=org, source="default", target=SHARD, schema_name=org.schema_name)
    _step_schema(move, None)
    _step_copy(move, None, max_lag_bytes=1 << 20, timeout=60)
    _pause_writes(move)
    with schema_context(org.schema_name):
        during = tenant_ping.apply_async(queue=shard_worker)
    time.sleep(1.5)
    assert not during.ready(), "the task ran while the organization's writes were paused"

    finished = tenant_move(tenant=org, target=SHARD)
    assert finished.pk == move.pk
    assert finished.state == TenantMove.State.DONE
    assert Tenant.objects.get(pk=org.pk).shard == SHARD
    assert during.get(timeout=30) == {"schema": org.schema_name, "shard": SHARD, "projects": 1}
    with schema_context(org.schema_name):
        after = tenant_ping.apply_async(queue=shard_worker).get(timeout=30)
    assert after == {"schema": org.schema_name, "shard": SHARD, "projects": 1}
