"""The endpoints API: authorization matrix (denied requests change nothing), validation, secrets shown
once, rotation, the delivery log, send again and test events."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Role
from tenant_apps.outgoing import services
from tenant_apps.outgoing.models import Delivery, DeliveryKind, OutboxEvent, WebhookEndpoint
from tenant_apps.projects import services as projects
from tenants.base.actor import Actor
from tests.outgoing.support import make_endpoint
from tests.support.api import Api

pytestmark = pytest.mark.django_db


def _state(tenant) -> list:
    with schema_context(tenant.schema_name):
        return [
            list(WebhookEndpoint.objects.order_by("pk").values()),
            list(Delivery.objects.order_by("pk").values()),
            list(OutboxEvent.objects.order_by("pk").values_list("pk", flat=True)),
        ]


@pytest.fixture
def setup(tenant_a, tenant_b, owner_a, member_factory):
    endpoint, _ = make_endpoint(tenant_a, "https://hooks.example.org/tenantry", ["project.created"])
    with schema_context(tenant_a.schema_name):
        projects.project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="Seen")
        delivery = Delivery.objects.get(endpoint=endpoint)
    return {
        "endpoint": endpoint,
        "delivery": delivery,
        "admin": member_factory(tenant_a, Role.ADMIN),
        "member": member_factory(tenant_a, Role.MEMBER),
        "billing": member_factory(tenant_a, Role.BILLING),
        "other_admin": member_factory(tenant_b, Role.ADMIN),
    }


def _requests(ep: int, dl: int) -> list[tuple[str, str, dict | None]]:
    base = f"/api/v1/webhook-endpoints/{ep}/"
    return [
        ("get", "/api/v1/webhook-endpoints/", None),
        ("post", "/api/v1/webhook-endpoints/", {"url": "https://new.example.org/", "event_types": ["*"]}),
        ("get", base, None),
        ("patch", base, {"enabled": False}),
        ("delete", base, None),
        ("post", base + "rotate-secret/", {}),
        ("post", base + "test/", None),
        ("get", base + "deliveries/", None),
        ("get", base + f"deliveries/{dl}/", None),
        ("post", base + f"deliveries/{dl}/resend/", None),
        ("get", "/api/v1/webhook-endpoints/event-types/", None),
    ]


@pytest.mark.usefixtures("tenant_b")
@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("other_tenant_admin", 404), ("member", 403), ("billing", 403)],
)
def test_denied_callers_change_nothing(setup, tenant_a, who, expected):
    user = {"anonymous": None, "other_tenant_admin": setup["other_admin"]}.get(who, setup.get(who))
    api = Api(tenant_a, user)
    before = _state(tenant_a)
    for method, path, body in _requests(setup["endpoint"].pk, setup["delivery"].pk):
        response = getattr(api, method)(path, body) if body is not None or method != "get" else api.get(path)
        assert response.status_code == expected, (method, path, response.content)
        assert response.json()["error"]["code"] in {"not_authenticated", "not_found", "permission_denied"}
    assert _state(tenant_a) == before


def test_another_tenants_endpoint_is_404_for_its_admins(setup, tenant_b, member_factory):
    api = Api(tenant_b, member_factory(tenant_b, Role.OWNER))
    before = _state(tenant_b)
    for method, path, body in _requests(setup["endpoint"].pk, setup["delivery"].pk)[2:10]:
        response = getattr(api, method)(path, body) if method != "get" else api.get(path)
        assert response.status_code == 404, (method, path)
    assert _state(tenant_b) == before


@pytest.mark.usefixtures("settings")
def test_admin_manages_endpoints(setup, tenant_a):
    api = Api(tenant_a, setup["admin"])
    created = api.post(
        "/api/v1/webhook-endpoints/",
        {
            "url": "https://erp.example.org/in",
            "description": "ERP",
            "event_types": ["task.completed", "project.created"],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert created["Cache-Control"] == "no-store"
    ep = body["id"]
    listed = api.get("/api/v1/webhook-endpoints/").json()
    assert [e["id"] for e in listed["results"]][:1] == [ep]
    detail = api.get(f"/api/v1/webhook-endpoints/{ep}/").json()
    assert "secret" not in detail
    assert detail["event_types"] == ["task.completed", "project.created"]
    with schema_context(tenant_a.schema_name):
        assert WebhookEndpoint.objects.get(pk=ep).secret == body["secret"]

    patched = api.patch(f"/api/v1/webhook-endpoints/{ep}/", {"enabled": False, "description": "ERP (paused)"})
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False

    rotated = api.post(f"/api/v1/webhook-endpoints/{ep}/rotate-secret/", {"overlap_seconds": 600})
    assert rotated.status_code == 201
    assert rotated.json()["secret"] != body["secret"]
    assert rotated.json()["secret_rotating_until"]

    assert api.delete(f"/api/v1/webhook-endpoints/{ep}/").status_code == 204
    assert api.get(f"/api/v1/webhook-endpoints/{ep}/").status_code == 404
    types = api.get("/api/v1/webhook-endpoints/event-types/").json()["event_types"]
    assert "billing.plan_changed" in types
    assert "task.completed" in types


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"url": "http://plain.example.org/", "event_types": ["*"]}, "https_required", "url"),
        ({"url": "https://10.0.0.8/", "event_types": ["*"]}, "address_refused", "url"),
        ({"url": "https://169.254.169.254/", "event_types": ["*"]}, "address_refused", "url"),
        ({"url": "not a url", "event_types": ["*"]}, "https_required", "url"),
        ({"url": "https://ok.example.org/", "event_types": ["project.exploded"]}, "invalid", "event_types"),
        ({"url": "https://ok.example.org/", "event_types": []}, "invalid", "event_types"),
        ({"url": "https://ok.example.org/"}, "invalid", "event_types"),
        ({"url": "https://ok.example.org/", "event_types": "*"}, "invalid", "event_types"),
    ],
)
def test_invalid_input_is_a_clear_400_and_nothing_is_written(setup, tenant_a, settings, payload, code, field):
    settings.OUTGOING_WEBHOOKS_ALLOW_HTTP = False
    settings.OUTGOING_WEBHOOKS_ALLOW_LOOPBACK = False
    before = _state(tenant_a)
    response = Api(tenant_a, setup["admin"]).post("/api/v1/webhook-endpoints/", payload)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"]
    assert error["code"] == code, error
    assert _state(tenant_a) == before


def test_bad_overlap_and_malformed_json(setup, tenant_a):
    api = Api(tenant_a, setup["admin"])
    ep = setup["endpoint"].pk
    before = _state(tenant_a)
    assert api.post(f"/api/v1/webhook-endpoints/{ep}/rotate-secret/", {"overlap_seconds": -1}).status_code == 400
    r = api.post("/api/v1/webhook-endpoints/", raw="{not json")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"
    assert api.patch(f"/api/v1/webhook-endpoints/{ep}/", {"event_types": ["nope"]}).status_code == 400
    assert _state(tenant_a) == before


def test_endpoint_limit(setup, tenant_a, settings):
    settings.OUTGOING_WEBHOOKS_MAX_ENDPOINTS = 1
    r = Api(tenant_a, setup["admin"]).post(
        "/api/v1/webhook-endpoints/", {"url": "https://two.example.org/", "event_types": ["*"]}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "endpoint_limit"


def test_delivery_log_resend_and_test_event(setup, tenant_a):
    api = Api(tenant_a, setup["admin"])
    ep, dl = setup["endpoint"].pk, setup["delivery"].pk
    log = api.get(f"/api/v1/webhook-endpoints/{ep}/deliveries/").json()["results"]
    assert [d["id"] for d in log] == [dl]
    assert log[0]["event_type"] == "project.created"
    assert log[0]["status"] == "pending"
    assert {"duration_ms", "response_status", "response_excerpt", "next_attempt_at", "attempts"} <= set(log[0])
    detail = api.get(f"/api/v1/webhook-endpoints/{ep}/deliveries/{dl}/").json()
    assert detail["payload"]["type"] == "project.created"
    assert detail["payload"]["id"] == log[0]["event_id"]

    again = api.post(f"/api/v1/webhook-endpoints/{ep}/deliveries/{dl}/resend/")
    assert again.status_code == 202
    assert again.json()["kind"] == "resend"
    assert again.json()["event_id"] == log[0]["event_id"]
    test = api.post(f"/api/v1/webhook-endpoints/{ep}/test/")
    assert test.status_code == 202
    assert test.json()["event_type"] == "webhook.test"
    with schema_context(tenant_a.schema_name):
        kinds = sorted(Delivery.objects.filter(endpoint_id=ep).values_list("kind", flat=True))
    assert kinds == sorted([DeliveryKind.EVENT, DeliveryKind.RESEND, DeliveryKind.TEST])
    assert api.get(f"/api/v1/webhook-endpoints/{ep}/deliveries/999999/").status_code == 404


def test_secret_never_listed_and_rotation_without_overlap_drops_the_old_secret(setup, tenant_a):
    api = Api(tenant_a, setup["admin"])
    ep = setup["endpoint"].pk
    assert "whsec_" not in api.get("/api/v1/webhook-endpoints/").content.decode()
    r = api.post(f"/api/v1/webhook-endpoints/{ep}/rotate-secret/", {"overlap_seconds": 0})
    assert r.status_code == 201
    assert r.json()["secret_rotating_until"] is None
    with schema_context(tenant_a.schema_name):
        endpoint = WebhookEndpoint.objects.get(pk=ep)
        assert endpoint.previous_secret == ""
        assert endpoint.secret == r.json()["secret"]
        assert services.signing_secrets(endpoint=endpoint, now=endpoint.updated_at) == [endpoint.secret]
