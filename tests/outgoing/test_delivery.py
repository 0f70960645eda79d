"""Signing, retries with backoff, disabling after the window, SSRF refusals, the outbox's transaction.

Deliveries are attempted in-process (`delivery_attempt`, the task's body) against a real HTTP receiver
in a thread; time is advanced by passing `now`, never waited for."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import threading
import time

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.signals import plan_changed
from tenant_apps.outgoing import netguard, services
from tenant_apps.outgoing.models import Delivery, DeliveryStatus, OutboxEvent
from tenant_apps.outgoing.receiver import verify
from tenant_apps.projects import services as projects
from tenant_apps.projects.models import TaskStatus
from tenants.base.actor import Actor
from tests.outgoing.support import make_endpoint
from tests.support.api import Api

pytestmark = pytest.mark.django_db


def _only_delivery() -> Delivery:
    return Delivery.objects.select_related("event", "endpoint").get()


def _due(delivery: Delivery) -> dt.datetime:
    """When a pending delivery is next tried (a pending delivery always has one)."""
    assert delivery.next_attempt_at is not None
    return delivery.next_attempt_at


def test_event_is_signed_and_carries_the_object_as_the_api_renders_it(tenant_a, owner_a, receiver_factory):
    receiver = receiver_factory()
    _endpoint, secret = make_endpoint(tenant_a, receiver.url, ["project.created"])
    receiver.secret = secret
    with schema_context(tenant_a.schema_name):
        project = projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Apollo")
        delivery = _only_delivery()
        assert services.delivery_attempt(delivery_id=delivery.pk) == ("succeeded", None)
        delivery = _only_delivery()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.response_status == 200
    assert delivery.duration_ms is not None
    assert '"received": true' in delivery.response_excerpt
    [record] = receiver.received
    # The documented snippet verifies the raw body against the header.
    event = verify(record["body"], record["headers"]["Tenantry-Signature"], secret)
    assert record["headers"]["Tenantry-Event-Id"] == event["id"] == delivery.event.event_id
    assert event["type"] == "project.created"
    assert event["api_version"] == "v1"
    assert event["organization"] == "alpha"
    assert event["sequence"] == delivery.event.pk
    assert event["created"].endswith("Z")
    api_view = Api(tenant_a, owner_a).get(f"/api/v1/projects/{project.pk}/").json()
    assert event["data"]["object"] == api_view
    # A tampered body or another secret does not verify.
    with pytest.raises(ValueError, match="no matching"):
        verify(record["body"].replace(b"Apollo", b"Apolo"), record["headers"]["Tenantry-Signature"], secret)
    with pytest.raises(ValueError, match="no matching"):
        verify(record["body"], record["headers"]["Tenantry-Signature"], "whsec_other")


def test_only_subscribed_enabled_endpoints_get_an_event(tenant_a, owner_a, receiver_factory):
    receiver = receiver_factory()
    make_endpoint(tenant_a, receiver.url, ["task.created"])
    off, _ = make_endpoint(tenant_a, receiver.url, ["*"])
    with schema_context(tenant_a.schema_name):
        services.endpoint_update(actor=Actor(user=None), endpoint=off, enabled=False)
        before = OutboxEvent.objects.count()
        project = projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Quiet")
        assert OutboxEvent.objects.count() == before  # nobody listens to project.created
        task = projects.task_create(actor=Actor(user=owner_a), tenant=tenant_a, project=project, title="T")
        assert list(Delivery.objects.values_list("event__type", flat=True)) == ["task.created"]
        projects.task_update(actor=Actor(user=owner_a), tenant=tenant_a, task=task, status=TaskStatus.DONE)
        assert list(Delivery.objects.values_list("event__type", flat=True)) == ["task.created"]


def test_task_events_and_completed(tenant_a, owner_a, receiver_factory):
    receiver = receiver_factory()
    make_endpoint(tenant_a, receiver.url, ["*"])
    with schema_context(tenant_a.schema_name):
        actor = Actor(user=owner_a)
        project = projects.project_create(actor=actor, tenant=tenant_a, name="P")
        task = projects.task_create(actor=actor, tenant=tenant_a, project=project, title="T")
        projects.task_update(actor=actor, tenant=tenant_a, task=task, title="T2")
        projects.task_update(actor=actor, tenant=tenant_a, task=task, status=TaskStatus.DONE)
        projects.task_update(actor=actor, tenant=tenant_a, task=task, description="still done")
        projects.task_delete(actor=actor, task=task)
        projects.project_delete(actor=actor, project=project)
        types = list(OutboxEvent.objects.order_by("pk").values_list("type", flat=True))
        last = json.loads(OutboxEvent.objects.order_by("pk").last().body)
    assert types == [
        "project.created",
        "task.created",
        "task.updated",
        "task.updated",
        "task.completed",
        "task.updated",
        "task.deleted",
        "project.deleted",
    ]
    assert last["data"]["object"]["id"] == project.pk
    assert last["data"]["object"]["name"] == "P"


def test_rolled_back_change_announces_nothing(tenant_a, owner_a, receiver_factory):
    receiver = receiver_factory()
    make_endpoint(tenant_a, receiver.url, ["*"])
    with schema_context(tenant_a.schema_name):
        before = (OutboxEvent.objects.count(), Delivery.objects.count())

        def create_then_fail() -> None:
            with transaction.atomic():
                projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Never")
                assert OutboxEvent.objects.count() == before[0] + 1  # written with the change...
                raise RuntimeError("the caller's transaction fails after the service returned")

        with pytest.raises(RuntimeError, match="the caller's transaction fails"):
            create_then_fail()
        assert (OutboxEvent.objects.count(), Delivery.objects.count()) == before  # ...and gone with it
        project = projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Kept")
        task = projects.task_create(actor=Actor(user=owner_a), tenant=tenant_a, project=project, title="T")
        count = OutboxEvent.objects.count()
        with pytest.raises(ValidationError):  # an invalid status fails inside the service
            projects.task_update(actor=Actor(user=owner_a), tenant=tenant_a, task=task, status="nonsense")
        assert OutboxEvent.objects.count() == count


def test_plan_changed_signal_writes_the_event_in_the_tenants_schema_and_rolls_back_with_billing(
    tenant_a, receiver_factory
):
    receiver = receiver_factory()
    make_endpoint(tenant_a, receiver.url, ["billing.plan_changed"])

    def change_then_fail() -> None:
        with transaction.atomic():  # billing works in public
            plan_changed.send(sender=None, tenant=tenant_a, old_plan="free", new_plan="team")
            raise RuntimeError("billing's transaction rolls back")

    with pytest.raises(RuntimeError, match="billing's transaction rolls back"):
        change_then_fail()
    with schema_context(tenant_a.schema_name):
        assert not OutboxEvent.objects.exists()
    with transaction.atomic():
        plan_changed.send(sender=None, tenant=tenant_a, old_plan="free", new_plan="team")
    with schema_context(tenant_a.schema_name):
        event = json.loads(OutboxEvent.objects.get().body)
    assert event["type"] == "billing.plan_changed"
    assert event["data"]["object"] == {"plan": "team", "previous_plan": "free", "organization": "alpha"}


def test_rotation_signs_with_both_secrets_during_the_overlap(tenant_a, owner_a, receiver_factory):
    receiver = receiver_factory()
    endpoint, old = make_endpoint(tenant_a, receiver.url, ["project.created"])
    now = timezone.now()
    with schema_context(tenant_a.schema_name):
        endpoint, new = services.endpoint_rotate_secret(
            actor=Actor(user=None), endpoint=endpoint, overlap_seconds=3600, now=now
        )
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="A")
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="B")
        first, second = Delivery.objects.order_by("pk")
        services.delivery_attempt(delivery_id=first.pk, now=now + dt.timedelta(minutes=59))
        services.delivery_attempt(delivery_id=second.pk, now=now + dt.timedelta(minutes=61))
    during, after = receiver.received
    assert during["headers"]["Tenantry-Signature"].count("v1=") == 2
    verify(during["body"], during["headers"]["Tenantry-Signature"], old)
    verify(during["body"], during["headers"]["Tenantry-Signature"], new)
    assert after["headers"]["Tenantry-Signature"].count("v1=") == 1
    verify(after["body"], after["headers"]["Tenantry-Signature"], new)
    with pytest.raises(ValueError, match="no matching v1 signature"):
        verify(after["body"], after["headers"]["Tenantry-Signature"], old)


def test_retries_with_exponential_backoff_until_the_receiver_recovers(tenant_a, owner_a, receiver_factory, settings):
    settings.OUTGOING_WEBHOOKS_RETRY_BASE_SECONDS = 30
    failures = {"left": 3}

    def flaky(_event, _headers):
        if failures["left"]:
            failures["left"] -= 1
            return 503
        return 200

    receiver = receiver_factory(behaviour=flaky)
    _, receiver.secret = make_endpoint(tenant_a, receiver.url, ["project.created"])
    with schema_context(tenant_a.schema_name):
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Flaky")
        delivery = _only_delivery()
        now = _due(delivery)
        delays = []
        for attempt in range(1, 4):
            outcome, _retry_in = services.delivery_attempt(delivery_id=delivery.pk, now=now)
            assert outcome == "retry"
            delivery.refresh_from_db()
            assert delivery.status == DeliveryStatus.PENDING
            assert delivery.response_status == 503
            assert delivery.error == "HTTP 503"
            assert delivery.attempts == attempt
            delay = (_due(delivery) - now).total_seconds()
            cap = 30 * 2 ** (attempt - 1)
            assert cap / 2 <= delay <= cap  # exponential, with jitter in the upper half
            # Not due yet: a duplicate message just before the time does nothing.
            assert services.delivery_attempt(delivery_id=delivery.pk, now=now + dt.timedelta(seconds=delay - 1)) == (
                "not_due",
                None,
            )
            delays.append(delay)
            now = _due(delivery)
        assert services.delivery_attempt(delivery_id=delivery.pk, now=now) == ("succeeded", None)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.SUCCEEDED
        assert delivery.attempts == 4
        assert delivery.endpoint.failing_since is None
        # Already delivered: a late duplicate message sends nothing more.
        assert services.delivery_attempt(delivery_id=delivery.pk, now=now + dt.timedelta(hours=1))[0] == "done"
        delivery = _only_delivery()
    assert len(receiver.received) == 4
    assert {r["event"]["id"] for r in receiver.received} == {delivery.event.event_id}
    assert delays[0] < delays[2]


def test_endpoint_failing_for_three_days_is_disabled_and_owners_emailed(
    tenant_a, owner_a, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory(behaviour=lambda _event, _headers: 500)
    endpoint, receiver.secret = make_endpoint(tenant_a, receiver.url, ["project.created"])
    with schema_context(tenant_a.schema_name):
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Doomed")
        delivery = _only_delivery()
        start = now = delivery.created_at
        outcome = "retry"
        with django_capture_on_commit_callbacks(execute=True):
            while outcome == "retry":
                outcome, _ = services.delivery_attempt(delivery_id=delivery.pk, now=now)
                delivery.refresh_from_db()
                if outcome == "retry":
                    now = _due(delivery)
                    endpoint.refresh_from_db()
                    assert endpoint.enabled  # still trying within the window
        assert outcome == "failed"
        delivery.refresh_from_db()
        endpoint.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at is None
    assert dt.timedelta(days=2, hours=20) <= now - start <= dt.timedelta(days=3)
    assert 15 <= delivery.attempts <= 40
    assert len(receiver.received) == delivery.attempts
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "failing"
    [message] = [m for m in mail.outbox if "disabled" in m.subject]
    assert message.to == ["owner@alpha.test"]
    assert endpoint.url in message.body
    # Disabled: new changes are not announced to it any more.
    with schema_context(tenant_a.schema_name):
        before = OutboxEvent.objects.count()
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="After")
        assert OutboxEvent.objects.count() == before


def test_a_success_meanwhile_resets_the_failure_clock(tenant_a, owner_a, receiver_factory):
    state = {"ok": False}
    receiver = receiver_factory(behaviour=lambda _event, _headers: 200 if state["ok"] else 500)
    endpoint, receiver.secret = make_endpoint(tenant_a, receiver.url, ["project.created"])
    with schema_context(tenant_a.schema_name):
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="A")
        first = _only_delivery()
        t0 = first.created_at
        services.delivery_attempt(delivery_id=first.pk, now=t0)
        endpoint.refresh_from_db()
        assert endpoint.failing_since == t0
        state["ok"] = True
        first.refresh_from_db()
        services.delivery_attempt(delivery_id=first.pk, now=first.next_attempt_at)
        endpoint.refresh_from_db()
        assert endpoint.failing_since is None
        assert endpoint.enabled


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.10.10", "link_local"),
        ("fe80::1", "link_local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("::ffff:10.0.0.1", "private"),
        ("100.64.0.1", "not_global"),
        ("240.0.0.1", "private"),
        ("fd00:ec2::254", "metadata"),
    ],
)
def test_address_refusals(address, reason):
    assert netguard.address_refusal(ipaddress.ip_address(address), allow_loopback=False) == reason
    assert netguard.address_refusal(ipaddress.ip_address("93.184.215.14"), allow_loopback=False) is None


def test_production_settings_refuse_loopback_and_private_targets_at_delivery(
    tenant_a, owner_a, receiver_factory, settings
):
    receiver = receiver_factory()
    loopback, _ = make_endpoint(tenant_a, receiver.url, ["project.created"])
    localhost, _ = make_endpoint(tenant_a, f"http://localhost:{receiver.port}/", ["project.created"])
    with schema_context(tenant_a.schema_name):
        # Registered when it was allowed; the URL is bypassed into the row for the private target.
        private, _ = services.endpoint_create(actor=Actor(user=None), url="https://example.org/", event_types=["*"])
        type(private).objects.filter(pk=private.pk).update(url="https://10.20.30.40:9/")
        metadata, _ = services.endpoint_create(actor=Actor(user=None), url="https://example.org/", event_types=["*"])
        type(metadata).objects.filter(pk=metadata.pk).update(url="http://169.254.169.254/latest/meta-data/")
        settings.OUTGOING_WEBHOOKS_ALLOW_LOOPBACK = False
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="SSRF")
        outcomes = {}
        for d in Delivery.objects.select_related("endpoint"):
            started = time.monotonic()
            outcomes[d.endpoint_id] = services.delivery_attempt(delivery_id=d.pk)[0]
            assert time.monotonic() - started < 2  # refused before any connection attempt
        errors = dict(Delivery.objects.values_list("endpoint_id", "error"))
    assert set(outcomes.values()) == {"retry"}
    assert "loopback" in errors[loopback.pk]
    assert "loopback" in errors[localhost.pk]
    assert "private" in errors[private.pk]
    assert "address_refused" in errors[private.pk]
    assert "metadata" in errors[metadata.pk]
    assert receiver.received == []  # nothing reached the receiver


def test_http_is_refused_without_the_development_setting(tenant_a, settings):
    settings.OUTGOING_WEBHOOKS_ALLOW_HTTP = False
    settings.OUTGOING_WEBHOOKS_ALLOW_LOOPBACK = False
    with schema_context(tenant_a.schema_name):
        for url, code in [
            ("http://example.org/hook", "https_required"),
            ("ftp://example.org/hook", "https_required"),
            ("https://10.0.0.5/hook", "address_refused"),
            ("https://[::1]/hook", "address_refused"),
            ("https://user:pw@example.org/", "credentials_in_url"),
            ("https:///nohost", "invalid_url"),
        ]:
            with pytest.raises(ValidationError) as info:
                services.endpoint_create(actor=Actor(user=None), url=url, event_types=["*"])
            assert info.value.error_dict["url"][0].code == code, url


class _Redirector(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(307)
        self.send_header("Location", self.server.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_redirects_are_not_followed_and_slow_receivers_time_out(tenant_a, owner_a, receiver_factory, settings):
    target = receiver_factory()
    redirector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    redirector.target = target.url
    threading.Thread(target=redirector.serve_forever, daemon=True).start()
    release = threading.Event()
    slow = receiver_factory(on_request=lambda: release.wait(10))
    settings.OUTGOING_WEBHOOKS_TIMEOUT_SECONDS = 1.0
    try:
        redirect_ep, _ = make_endpoint(
            tenant_a, f"http://127.0.0.1:{redirector.server_address[1]}/", ["project.created"]
        )
        slow_ep, _ = make_endpoint(tenant_a, slow.url, ["project.created"])
        with schema_context(tenant_a.schema_name):
            projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="R")
            for d in Delivery.objects.all():
                started = time.monotonic()
                assert services.delivery_attempt(delivery_id=d.pk)[0] == "retry"
                assert time.monotonic() - started < 2.5  # the deadline covers the whole exchange
            rows = {d.endpoint_id: d for d in Delivery.objects.all()}
    finally:
        release.set()
        redirector.shutdown()
        redirector.server_close()
    assert rows[redirect_ep.pk].response_status == 307
    assert "not followed" in rows[redirect_ep.pk].error
    assert target.received == []
    assert rows[slow_ep.pk].response_status is None
    assert "timed out" in rows[slow_ep.pk].error.lower()


def test_response_read_is_capped(tenant_a, owner_a, settings):
    class Huge(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()  # no length: the body runs until the connection closes
            try:
                for _ in range(4096):
                    self.wfile.write(b"x" * 1024)
            except OSError:
                pass

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Huge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.OUTGOING_WEBHOOKS_MAX_RESPONSE_BYTES = 4096
    try:
        make_endpoint(tenant_a, f"http://127.0.0.1:{server.server_address[1]}/", ["project.created"])
        with schema_context(tenant_a.schema_name):
            projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Big")
            assert services.delivery_attempt(delivery_id=_only_delivery().pk)[0] == "succeeded"
            delivery = _only_delivery()
    finally:
        server.shutdown()
        server.server_close()
    assert delivery.response_excerpt.endswith("…")
    assert len(delivery.response_excerpt) <= 1001


def test_sweeper_reenqueues_what_was_not_enqueued(tenant_a, owner_a, receiver_factory):
    receiver = receiver_factory()
    make_endpoint(tenant_a, receiver.url, ["project.created"])
    with schema_context(tenant_a.schema_name):
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Lost")
        delivery = _only_delivery()
        now = timezone.now()
        # Freshly enqueued: left alone.
        assert services.deliveries_sweep(now=now)[0] == 0
        # The enqueue failed (broker down): picked up at the next sweep.
        Delivery.objects.filter(pk=delivery.pk).update(enqueued_at=None)
        sent, depth = services.deliveries_sweep(now=now)
        assert (sent, depth) == (1, 1)
        delivery.refresh_from_db()
        assert delivery.enqueued_at == now
        # A claim whose lease ran out (a killed worker) is swept too.
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENDING, lease_until=now - dt.timedelta(seconds=1), enqueued_at=None
        )
        assert services.deliveries_sweep(now=now)[0] == 1


def test_the_snippet_in_docs_api_md_verifies_a_real_delivery(tenant_a, owner_a, receiver_factory):
    import re
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    block = re.search(r"\*\*Verifying a signature\*\*.*?```python\n(.*?)```", docs, re.S)
    assert block is not None
    namespace: dict = {}
    exec(block.group(1), namespace)  # noqa: S102 - our own documentation
    receiver = receiver_factory()
    _, secret = make_endpoint(tenant_a, receiver.url, ["project.created"])
    receiver.secret = secret
    with schema_context(tenant_a.schema_name):
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Docs")
        services.delivery_attempt(delivery_id=_only_delivery().pk)
    [record] = receiver.received
    event = namespace["verify"](record["body"], record["headers"]["Tenantry-Signature"], secret)
    assert event["type"] == "project.created"
    assert event["data"]["object"]["name"] == "Docs"
    with pytest.raises(ValueError, match="no matching v1 signature"):
        namespace["verify"](record["body"], record["headers"]["Tenantry-Signature"], "whsec_wrong")


def test_member_and_invitation_events_carry_the_api_representation(tenant_a, owner_a, receiver_factory):
    from tenant_apps.invitations import services as invitations
    from tenant_apps.members import services as members
    from tests.factories import TEST_PASSWORD

    receiver = receiver_factory()
    make_endpoint(tenant_a, receiver.url, ["*"])
    with schema_context(tenant_a.schema_name):
        actor = Actor(user=owner_a)
        invitation, _ = invitations.invitation_create(
            actor=actor,
            actor_role="owner",
            tenant=tenant_a,
            email="newbie@example.test",
            role="member",
            base_url="http://x",
        )
        membership = invitations.invitation_accept(
            actor=Actor(user=None), tenant=tenant_a, invitation=invitation, password=TEST_PASSWORD
        )
        members.member_change_role(actor=actor, actor_role="owner", membership=membership, role="admin")
        members.member_remove(actor=actor, actor_role="owner", membership=membership)
        events = [json.loads(body) for body in OutboxEvent.objects.order_by("pk").values_list("body", flat=True)]
    assert [e["type"] for e in events] == [
        "invitation.created",
        "invitation.accepted",
        "member.joined",
        "member.role_changed",
        "member.removed",
    ]
    assert events[0]["data"]["object"]["email"] == "newbie@example.test"
    assert events[0]["data"]["object"]["status"] == "pending"
    assert events[1]["data"]["object"]["status"] == "accepted"
    joined, changed, removed = (e["data"]["object"] for e in events[2:])
    assert joined["email"] == "newbie@example.test"
    assert joined["role"] == "member"
    assert changed["role"] == "admin"
    assert removed["user_id"] == joined["user_id"]
    assert sorted(joined) == ["email", "full_name", "joined_at", "role", "user_id"]


def test_metrics_count_deliveries_failures_and_queue_depth(tenant_a, owner_a, receiver_factory, settings):
    from django.test import Client

    from tenants.base.observability import _metrics_key
    from tenants.base.redis import redis_client

    settings.METRICS_TOKEN = "outgoing-metrics-token-0123456789"
    for name in ("outgoing_webhook_deliveries", "outgoing_webhook_queue_depth"):
        redis_client().delete(_metrics_key(name))
    state = {"status": 500}
    receiver = receiver_factory(behaviour=lambda _event, _headers: state["status"])
    make_endpoint(tenant_a, receiver.url, ["project.created"])
    with schema_context(tenant_a.schema_name):
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="M")
        delivery = _only_delivery()
        services.delivery_attempt(delivery_id=delivery.pk)
    services.deliveries_sweep_all(now=timezone.now() - dt.timedelta(days=1))  # records the depth only
    state["status"] = 200
    with schema_context(tenant_a.schema_name):
        delivery.refresh_from_db()
        services.delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    body = Client(HTTP_HOST="localhost").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}")
    text = body.content.decode()
    assert 'tenantry_outgoing_webhook_deliveries_total{outcome="failed_attempt"} 1.0' in text
    assert 'tenantry_outgoing_webhook_deliveries_total{outcome="succeeded"} 1.0' in text
    assert "tenantry_outgoing_webhook_queue_depth 1.0" in text
