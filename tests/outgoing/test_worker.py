"""Real Celery worker processes (started here, by pid) on the real broker, committed data, a real HTTP
receiver: delivery after commit, a lost enqueue caught by the sweeper, and a worker killed mid-delivery.

Each test's workers consume a queue of their own (OUTGOING_WEBHOOKS_QUEUE), so the session's shared
worker never takes these deliveries."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from tenant_apps.audit.models import AuditEvent
from tenant_apps.outgoing import services
from tenant_apps.outgoing.models import Delivery, DeliveryStatus, OutboxEvent, WebhookEndpoint
from tenant_apps.outgoing.receiver import verify
from tenant_apps.projects import services as projects
from tenant_apps.projects.models import Project
from tenants.base.actor import Actor
from tenants.models import Tenant
from tests.support.workers import celery_worker_spawn, celery_worker_wait
from tests.webhooks.test_worker import broker_down

pytestmark = [pytest.mark.worker]

PREFIX = "outgoing-worker-test"


@pytest.fixture
def alpha(django_db_setup: Any, django_db_blocker: Any, settings: Any) -> Iterator[Tenant]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """Autocommit access to tenant alpha; everything these tests commit there is removed afterwards."""
    settings.OUTGOING_WEBHOOKS_QUEUE = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
    settings.BILLING_PLANS = {
        **settings.BILLING_PLANS,
        "test": {"name": "Test", "limits": {"seats": None, "projects": None, "api_rpm": 100_000}, "features": []},
    }
    settings.BILLING_DEFAULT_PLAN = "test"
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug="alpha")
        yield tenant
        with schema_context(tenant.schema_name):
            OutboxEvent.objects.all().delete()
            WebhookEndpoint.objects.all().delete()
            Project.objects.filter(name__startswith=PREFIX).delete()
            AuditEvent.objects.filter(action__startswith="webhook_endpoint.").delete()
            AuditEvent.objects.filter(data__name__startswith=PREFIX).delete()


class Worker:
    def __init__(self, queue: str, **env: str) -> None:
        self.name = f"{PREFIX}-{uuid.uuid4().hex[:6]}@localhost"
        self.proc = celery_worker_spawn(node=self.name, queues=queue, env={"OUTGOING_WEBHOOKS_QUEUE": queue, **env})
        try:
            celery_worker_wait(self.proc, self.name)
        except (RuntimeError, TimeoutError):
            self.stop()
            raise

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _delivery(tenant: Tenant) -> Delivery:
    with schema_context(tenant.schema_name):
        return Delivery.objects.select_related("event").get()


@pytest.mark.django_db
def test_session_tenants_exist(tenant_a) -> None:
    # Runs first when this file runs alone: creates the test database through pytest-django's regular
    # path (as tests/webhooks/test_worker.py does).
    assert tenant_a.slug == "alpha"


def test_delivered_by_a_real_worker_after_commit(alpha, receiver_factory, settings):
    receiver = receiver_factory()
    worker = Worker(settings.OUTGOING_WEBHOOKS_QUEUE)
    try:
        with schema_context(alpha.schema_name):
            _, receiver.secret = services.endpoint_create(actor=Actor(user=None), url=receiver.url, event_types=["*"])
            project = projects.project_create(actor=Actor(user=None), tenant=alpha, name=f"{PREFIX} one")
        wait_for(lambda: _delivery(alpha).status == DeliveryStatus.SUCCEEDED)
    finally:
        worker.stop()
    [event] = receiver.events()
    assert event["type"] == "project.created"
    assert event["data"]["object"]["id"] == project.pk


def test_lost_enqueue_is_delivered_by_the_sweeper(alpha, receiver_factory, settings):
    settings.OUTGOING_WEBHOOKS_SWEEP_AFTER_SECONDS = 0
    receiver = receiver_factory()
    with schema_context(alpha.schema_name):
        _, receiver.secret = services.endpoint_create(actor=Actor(user=None), url=receiver.url, event_types=["*"])
        with broker_down():  # the change commits; its enqueue fails
            projects.project_create(actor=Actor(user=None), tenant=alpha, name=f"{PREFIX} lost")
    assert _delivery(alpha).enqueued_at is None
    assert _delivery(alpha).status == DeliveryStatus.PENDING
    worker = Worker(settings.OUTGOING_WEBHOOKS_QUEUE)
    try:
        time.sleep(1)
        assert receiver.received == []  # nothing was queued
        assert services.deliveries_sweep_all()["enqueued"] >= 1
        wait_for(lambda: _delivery(alpha).status == DeliveryStatus.SUCCEEDED)
    finally:
        worker.stop()
    assert len(receiver.events()) == 1


def test_worker_killed_mid_delivery_one_recorded_success(alpha, receiver_factory, settings):
    """SIGKILL while the receiver holds the request. The claim outlives the HTTP deadline; when its lease
    has run out the sweeper re-enqueues the delivery and a new worker sends it again. The receiver sees
    the same event id twice (at least once); exactly one success is recorded."""
    settings.OUTGOING_WEBHOOKS_SWEEP_AFTER_SECONDS = 0
    arrived, release = threading.Event(), threading.Event()

    def hold_first() -> None:
        if not arrived.is_set():
            arrived.set()
            release.wait(30)

    receiver = receiver_factory(on_request=hold_first)
    # Lease = 4 s deadline + 10 s margin: long enough that starting the second worker on a loaded machine
    # cannot outlast it before the "nobody takes over while the lease holds" check.
    env = {"OUTGOING_WEBHOOKS_TIMEOUT_SECONDS": "4", "OUTGOING_WEBHOOKS_LEASE_MARGIN_SECONDS": "10"}
    first = Worker(settings.OUTGOING_WEBHOOKS_QUEUE, **env)
    second: Worker | None = None
    try:
        with schema_context(alpha.schema_name):
            _, receiver.secret = services.endpoint_create(actor=Actor(user=None), url=receiver.url, event_types=["*"])
            projects.project_create(actor=Actor(user=None), tenant=alpha, name=f"{PREFIX} kill")
        assert arrived.wait(30), "the first worker never reached the receiver"
        first.kill()  # mid-request: the receiver has the body, the worker never sees the answer
        release.set()
        claimed = _delivery(alpha)
        assert claimed.status == DeliveryStatus.SENDING
        assert claimed.attempts == 1
        second = Worker(settings.OUTGOING_WEBHOOKS_QUEUE, **env)
        # While the lease holds, nobody takes the delivery over (a duplicate message would be refused).
        lease_until = claimed.lease_until
        assert lease_until is not None
        assert timezone.now() < lease_until, "the second worker took longer than the lease to start"
        assert services.deliveries_sweep_all()["enqueued"] == 0
        wait_for(lambda: timezone.now() > lease_until, timeout=30)
        assert services.deliveries_sweep_all()["enqueued"] == 1
        wait_for(lambda: _delivery(alpha).status == DeliveryStatus.SUCCEEDED)
        time.sleep(1)  # room for a (wrong) third send to show up
    finally:
        release.set()
        first.stop()
        if second is not None:
            second.stop()
    delivery = _delivery(alpha)
    assert delivery.attempts == 2
    assert delivery.response_status == 200
    with schema_context(alpha.schema_name):
        assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 1
    assert len(receiver.received) == 2  # at least once: the killed attempt's request did arrive
    ids = {verify(r["body"], r["headers"]["Tenantry-Signature"], receiver.secret)["id"] for r in receiver.received}
    assert ids == {delivery.event.event_id}
