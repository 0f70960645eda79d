"""Portal pages for webhooks: who may open and use them (denied requests change nothing), the secret
shown once, the delivery log with send again and test events."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Role
from tenant_apps.outgoing.models import Delivery, DeliveryKind, OutboxEvent, WebhookEndpoint
from tenant_apps.projects import services as projects
from tenants.base.actor import Actor
from tests.outgoing.support import make_endpoint
from tests.support.clients import portal_client

pytestmark = pytest.mark.django_db


def _state(tenant) -> list:
    with schema_context(tenant.schema_name):
        return [
            list(WebhookEndpoint.objects.order_by("pk").values()),
            list(Delivery.objects.order_by("pk").values()),
            list(OutboxEvent.objects.order_by("pk").values_list("pk", flat=True)),
        ]


@pytest.fixture
def endpoint(tenant_a, owner_a):
    ep, _ = make_endpoint(tenant_a, "https://hooks.example.org/in", ["project.created"])
    with schema_context(tenant_a.schema_name):
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Logged")
        delivery = Delivery.objects.get(endpoint=ep)
    return ep, delivery


def _pages(ep: int, dl: int) -> list[tuple[str, str, dict]]:
    form = {"url": "https://changed.example.org/", "event_types": ["*"], "enabled": "on"}
    return [
        ("get", "/webhooks/", {}),
        ("post", "/webhooks/", form),
        ("get", f"/webhooks/{ep}/", {}),
        ("post", f"/webhooks/{ep}/", form),
        ("post", f"/webhooks/{ep}/rotate/", {"overlap_hours": "1"}),
        ("post", f"/webhooks/{ep}/test/", {}),
        ("post", f"/webhooks/{ep}/deliveries/{dl}/resend/", {}),
        ("post", f"/webhooks/{ep}/delete/", {}),
    ]


@pytest.mark.parametrize("who", ["anonymous", "other_tenant", "member", "billing"])
def test_denied_portal_requests_change_nothing(endpoint, tenant_a, tenant_b, member_factory, who):
    ep, delivery = endpoint
    if who == "anonymous":
        client, expected = portal_client(tenant_a), 302
    elif who == "other_tenant":
        # Signed in to beta, visiting alpha's host: sent to sign in again (a member of beta only gets 404).
        user = member_factory(tenant_b, Role.OWNER)
        client = portal_client(tenant_a, user)
        expected = 404
    else:
        client, expected = portal_client(tenant_a, member_factory(tenant_a, who)), 403
    before = _state(tenant_a)
    for method, path, data in _pages(ep.pk, delivery.pk):
        response = getattr(client, method)(path, data)
        assert response.status_code == expected, (who, method, path)
        if expected == 302:
            assert response["Location"].startswith("/login/")
    assert _state(tenant_a) == before


def test_member_does_not_see_the_nav_link_admin_does(tenant_a, owner_a, member_factory):
    assert 'href="/webhooks/"' not in portal_client(tenant_a, member_factory(tenant_a)).get("/").content.decode()
    assert 'href="/webhooks/"' in portal_client(tenant_a, owner_a).get("/").content.decode()


def test_admin_adds_an_endpoint_and_sees_the_secret_once(tenant_a, member_factory):
    client = portal_client(tenant_a, member_factory(tenant_a, Role.ADMIN))
    r = client.post(
        "/webhooks/",
        {
            "url": "https://crm.example.org/hooks",
            "description": "CRM",
            "event_types": ["project.created"],
            "enabled": "on",
        },
    )
    assert r.status_code == 201
    assert r["Cache-Control"] == "no-store"
    secret = re.search(r'data-testid="new-secret">(whsec_[^<]+)<', r.content.decode()).group(1)
    with schema_context(tenant_a.schema_name):
        endpoint = WebhookEndpoint.objects.get(url="https://crm.example.org/hooks")
        assert endpoint.secret == secret
        assert endpoint.event_types == ["project.created"]
    assert secret not in client.get("/webhooks/").content.decode()
    assert secret not in client.get(f"/webhooks/{endpoint.pk}/").content.decode()


def test_invalid_endpoint_form_shows_errors_and_writes_nothing(tenant_a, owner_a, settings):
    settings.OUTGOING_WEBHOOKS_ALLOW_HTTP = False
    client = portal_client(tenant_a, owner_a)
    before = _state(tenant_a)
    r = client.post("/webhooks/", {"url": "http://plain.example.org/", "event_types": ["*"]})
    assert r.status_code == 400
    assert "must use https" in r.content.decode()
    r = client.post("/webhooks/", {"url": "https://ok.example.org/", "event_types": ["nope"]})
    assert r.status_code == 400
    assert "Select a valid choice" in r.content.decode()
    assert _state(tenant_a) == before


def test_detail_log_resend_test_rotate_delete(endpoint, tenant_a, owner_a):
    ep, delivery = endpoint
    client = portal_client(tenant_a, owner_a)
    page = client.get(f"/webhooks/{ep.pk}/").content.decode()
    assert f'data-delivery="{delivery.pk}"' in page
    assert "project.created" in page
    assert "Send again" in page
    assert client.post(f"/webhooks/{ep.pk}/deliveries/{delivery.pk}/resend/").status_code == 302
    assert client.post(f"/webhooks/{ep.pk}/test/").status_code == 302
    with schema_context(tenant_a.schema_name):
        kinds = sorted(Delivery.objects.filter(endpoint=ep).values_list("kind", flat=True))
    assert kinds == sorted([DeliveryKind.EVENT, DeliveryKind.RESEND, DeliveryKind.TEST])
    rotated = client.post(f"/webhooks/{ep.pk}/rotate/", {"overlap_hours": "2"})
    assert rotated.status_code == 200
    assert rotated["Cache-Control"] == "no-store"
    with schema_context(tenant_a.schema_name):
        ep.refresh_from_db()
    assert ep.secret in rotated.content.decode()
    assert ep.previous_secret_expires_at is not None
    saved = client.post(
        f"/webhooks/{ep.pk}/", {"url": "https://new.example.org/", "event_types": ["task.completed"], "description": ""}
    )
    assert saved.status_code == 302
    with schema_context(tenant_a.schema_name):
        ep.refresh_from_db()
    assert ep.url == "https://new.example.org/"
    assert ep.event_types == ["task.completed"]
    assert not ep.enabled
    assert client.post(f"/webhooks/{ep.pk}/delete/").status_code == 302
    with schema_context(tenant_a.schema_name):
        assert not WebhookEndpoint.objects.filter(pk=ep.pk).exists()
    assert client.get(f"/webhooks/{ep.pk}/").status_code == 404


def test_a_suspended_organization_manages_no_endpoints_and_sends_nothing_new(endpoint, tenant_a, owner_a):
    """Read-only is one rule (billing.policies): the portal's webhook pages refuse every write of a
    suspended organization with the read-only message, and nothing changes."""
    from tenants.services import tenant_reactivate, tenant_suspend

    ep, delivery = endpoint
    tenant_suspend(tenant=tenant_a)
    try:
        client = portal_client(tenant_a, owner_a)
        before = _state(tenant_a)
        for method, path, data in _pages(ep.pk, delivery.pk):
            if method == "get":
                assert client.get(path).status_code == 200, path  # reading still works
                continue
            response = client.post(path, data, follow=True)
            assert response.status_code in (200, 400, 402), (path, response.status_code)
            assert "read-only" in response.content.decode(), path
        assert _state(tenant_a) == before
    finally:
        tenant_reactivate(tenant=tenant_a)
