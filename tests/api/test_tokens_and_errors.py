"""Tokens (scope, expiry, revocation, hashing), the error envelope, bad input, limits, throttling."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Membership, Role
from tenant_apps.projects.models import Project
from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.services import api_token_create
from tenants.base.actor import Actor
from tests.factories import TEST_PASSWORD
from tests.support.api import Api, audit_count, make_project, set_limits, snapshot

pytestmark = pytest.mark.django_db


def _token(tenant, user, **kw) -> tuple[ApiToken, str]:
    with schema_context(tenant.schema_name):
        return api_token_create(actor=Actor(user=user), user=user, **kw)


# --- tokens ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("owner_a")
def test_token_exchange_is_shown_once_and_stored_hashed(tenant_a):
    r = Api(tenant_a).post(
        "/api/v1/auth/token/", {"email": "OWNER@alpha.test", "password": TEST_PASSWORD, "expires_in_days": 7}
    )
    assert r.status_code == 201, r.content
    raw = r.json()["token"]
    with schema_context(tenant_a.schema_name):
        row = ApiToken.objects.get(pk=r.json()["id"])
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM tokens_apitoken WHERE secret_hash = %s OR prefix = %s", [raw, raw])
            assert cur.fetchone()[0] == 0
    assert raw not in (row.secret_hash, row.prefix, row.name)
    assert row.expires_at is not None
    listed = Api(tenant_a, token=raw).get("/api/v1/auth/tokens/").json()["results"]
    assert listed
    assert all("token" not in t and "secret_hash" not in t for t in listed)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"email": "owner@alpha.test", "password": "wrong-password"}, 401, "invalid_credentials"),
        ({"email": "owner@beta.test", "password": TEST_PASSWORD}, 401, "invalid_credentials"),  # not a member
        ({"email": "not-an-email", "password": "x"}, 400, "invalid"),
        ({"email": "owner@alpha.test", "password": TEST_PASSWORD, "expires_in_days": 0}, 400, "invalid"),
    ],
)
def test_token_exchange_refusals(tenant_a, body, status, code):
    before = snapshot(tenant_a)
    r = Api(tenant_a).post("/api/v1/auth/token/", body)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.content
    assert snapshot(tenant_a) == before


def test_token_exchange_is_throttled(tenant_a, settings):
    settings.LOGIN_LOCKOUT_ACCOUNT_FAILURES = 2
    api = Api(tenant_a)
    for _ in range(2):
        assert api.post("/api/v1/auth/token/", {"email": "owner@alpha.test", "password": "nope"}).status_code == 401
    r = api.post("/api/v1/auth/token/", {"email": "owner@alpha.test", "password": TEST_PASSWORD})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "login_throttled"
    assert int(r["Retry-After"]) > 0


def test_token_of_tenant_a_is_401_on_tenant_b(tenant_a, tenant_b, owner_a):
    _, raw = _token(tenant_a, owner_a)
    assert Api(tenant_a, token=raw).get("/api/v1/me/").status_code == 200
    r = Api(tenant_b, token=raw).get("/api/v1/me/")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "authentication_failed"
    assert r["WWW-Authenticate"].startswith("Bearer")


def test_expired_revoked_and_garbage_tokens_are_401(tenant_a, owner_a):
    expired, raw_expired = _token(tenant_a, owner_a, expires_in_days=1)
    with schema_context(tenant_a.schema_name):
        ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    _, raw_revoked = _token(tenant_a, owner_a)
    api = Api(tenant_a, token=raw_revoked)
    revoked_id = api.get("/api/v1/auth/tokens/").json()["results"][0]["id"]
    assert api.delete(f"/api/v1/auth/tokens/{revoked_id}/").status_code == 204
    for raw in (raw_expired, raw_revoked, "tnt_nope_nope", "garbage", raw_revoked[:-1] + "x"):
        assert Api(tenant_a, token=raw).get("/api/v1/me/").status_code == 401, raw


def test_removed_member_token_stops_working(tenant_a, owner_a, member_factory):
    bob = member_factory(tenant_a, Role.MEMBER)
    _, raw = _token(tenant_a, bob)
    assert Api(tenant_a, user=owner_a).delete(f"/api/v1/members/{bob.pk}/").status_code == 204
    assert Api(tenant_a, token=raw).get("/api/v1/me/").status_code == 401


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "raw", "status", "code"),
    [
        ("post", "/api/v1/projects/", '{"name": ', 400, "malformed_json"),
        ("post", "/api/v1/projects/", "[1, 2]", 400, "invalid"),
        ("post", "/api/v1/projects/", '{"name": NaN}', 400, "malformed_json"),
        ("post", "/api/v1/projects/", '{"name": ["x"]}', 400, "invalid"),
        ("post", "/api/v1/projects/", '{"name": ""}', 400, "invalid"),
        ("post", "/api/v1/projects/", '{"name": "a\\u0000b"}', 400, "invalid"),
        ("post", "/api/v1/projects/{pid}/tasks/", '{"title": "t", "status": "nope"}', 400, "invalid"),
        ("post", "/api/v1/projects/{pid}/tasks/", '{"title": "t", "due_date": "tomorrow"}', 400, "invalid"),
        ("post", "/api/v1/projects/{pid}/tasks/", '{"title": "t", "assignee_id": "x"}', 400, "invalid"),
        ("post", "/api/v1/projects/{pid}/tasks/", '{"title": "t", "assignee_id": 99999999}', 400, "invalid_assignee"),
        ("post", "/api/v1/projects/{pid}/tasks/", '{"title": "t", "assignee_id": 1e30}', 400, "invalid"),
        (
            "post",
            "/api/v1/projects/{pid}/permissions/",
            '{"user_id": 99999999, "permissions": ["view"]}',
            400,
            "not_a_member",
        ),
        ("post", "/api/v1/projects/{pid}/permissions/", '{"user_id": 1, "permissions": ["own"]}', 400, "invalid"),
        ("patch", "/api/v1/projects/999999999/", '{"name": "x"}', 404, "not_found"),
        ("patch", "/api/v1/projects/99999999999999999999999/", '{"name": "x"}', 404, "not_found"),
        ("get", "/api/v1/projects/{pid}/tasks/123456789/", "", 404, "not_found"),
        ("get", "/api/v1/projects/?page=999", "", 404, "not_found"),
        ("get", "/api/v1/projects/?created_after=yesterday", "", 400, "invalid"),
        ("get", "/api/v1/projects/?search=a%00b", "", 400, "invalid"),
        ("patch", "/api/v1/members/{owner}/", '{"role": "member"}', 409, "last_owner"),
        ("delete", "/api/v1/members/{owner}/", "", 409, "last_owner"),
        ("patch", "/api/v1/members/{owner}/", '{"role": "king"}', 400, "invalid"),
        ("post", "/api/v1/invitations/", '{"email": "owner@alpha.test"}', 409, "already_member"),
        ("put", "/api/v1/projects/", "{}", 405, "method_not_allowed"),
    ],
)
def test_bad_input_is_a_clean_4xx_and_writes_nothing(tenant_a, owner_a, method, path, raw, status, code):
    project = make_project(tenant_a, owner_a)
    path = path.format(pid=project.pk, owner=owner_a.pk)
    api = Api(tenant_a, user=owner_a)
    before = snapshot(tenant_a)
    if method == "get":
        r = api.get(path)
    else:
        r = getattr(api.client, method)(path, data=raw, content_type="application/json")
    assert r.status_code == status, r.content
    assert r.json()["error"]["code"] == code, r.json()
    assert snapshot(tenant_a) == before


def test_wrong_content_type_is_415(tenant_a, owner_a):
    r = Api(tenant_a, user=owner_a).client.post("/api/v1/projects/", {"name": "x"})  # multipart form
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"


def test_oversized_body_is_413(tenant_a, owner_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    before = snapshot(tenant_a)
    r = Api(tenant_a, user=owner_a).post("/api/v1/projects/", {"name": "x", "description": "y" * 5000})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert snapshot(tenant_a) == before


@pytest.mark.usefixtures("db")
def test_unknown_api_url_on_public_host_is_404(client):
    assert client.get("/api/v1/me/").status_code == 404


# --- entitlements ---------------------------------------------------------------------------------


def test_project_limit_is_402_and_writes_nothing(tenant_a, owner_a, settings):
    set_limits(settings, projects=1)
    api = Api(tenant_a, user=owner_a)
    with schema_context(tenant_a.schema_name):
        existing = Project.objects.count()
    set_limits(settings, projects=existing + 1)
    assert api.post("/api/v1/projects/", {"name": "one"}).status_code == 201
    before = snapshot(tenant_a)
    r = api.post("/api/v1/projects/", {"name": "two"})
    assert r.status_code == 402
    assert r.json()["error"]["code"] == "plan_limit_projects"
    assert snapshot(tenant_a) == before


def test_seat_limit_is_402_on_invite_and_accept(tenant_a, owner_a, settings):
    seats = Membership.objects.filter(tenant=tenant_a).count()
    set_limits(settings, seats=seats + 1)
    api = Api(tenant_a, user=owner_a)
    r = api.post("/api/v1/invitations/", {"email": "first@x.test"})
    assert r.status_code == 201, r.content
    before = snapshot(tenant_a)
    r = api.post("/api/v1/invitations/", {"email": "second@x.test"})
    assert r.status_code == 402
    assert r.json()["error"]["code"] == "plan_limit_seats"
    assert snapshot(tenant_a) == before


def test_read_only_tenant_refuses_writes_with_402(tenant_a, owner_a):
    from billing.selectors import entitlements_for_tenant
    from tenant_apps.projects.services import project_create
    from tenants.models import TenantStatus

    tenant_a.status = TenantStatus.SUSPENDED  # in memory: the service must refuse on its own
    assert entitlements_for_tenant(tenant=tenant_a).read_only
    with schema_context(tenant_a.schema_name), pytest.raises(ValidationError) as exc:
        project_create(actor=Actor(user=owner_a), tenant=tenant_a, name="x")
    assert getattr(exc.value, "code", None) == "tenant_read_only"
    tenant_a.refresh_from_db()


def test_rate_limit_is_429_with_retry_after(tenant_a, owner_a, settings):
    set_limits(settings, api_rpm=4)  # 2 per credential, 4 per tenant
    api = Api(tenant_a, user=owner_a)
    responses = [api.get("/api/v1/me/") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    r = responses[-1]
    assert r.json()["error"]["code"] == "throttled"
    assert 0 < int(r["Retry-After"]) <= 60
    _, raw = _token(tenant_a, owner_a)
    token_api = Api(tenant_a, token=raw)
    # A second credential has its own budget, until the tenant's (every attempt counts) is spent.
    assert [token_api.get("/api/v1/me/").status_code for _ in range(2)] == [200, 429]


# --- invitations and audit ------------------------------------------------------------------------


def _mailed_invitation_token(outbox: list, email: str) -> str:
    [message] = [m for m in outbox if m.to == [email]]
    return re.search(r"Token: (inv_\S+)", message.body).group(1)


@pytest.mark.usefixtures("tenant_b")
def test_invitation_accept_new_and_existing_user(tenant_a, owner_a, django_capture_on_commit_callbacks):
    from django.core import mail

    api = Api(tenant_a, user=owner_a)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/v1/invitations/", {"email": "newbie@x.test", "role": "member"})
    assert r.status_code == 201
    assert "token" not in r.json()
    raw = _mailed_invitation_token(mail.outbox, "newbie@x.test")
    anon = Api(tenant_a)
    assert anon.post("/api/v1/invitations/accept/", {"token": raw}).json()["error"]["fields"].get("password")
    assert anon.post("/api/v1/invitations/accept/", {"token": raw, "password": "short"}).status_code == 400
    r = anon.post("/api/v1/invitations/accept/", {"token": raw, "password": "a-long-enough-passphrase"})
    assert r.status_code == 201, r.content
    assert r.json()["role"] == "member", r.content
    assert anon.post("/api/v1/invitations/accept/", {"token": raw, "password": "x" * 20}).status_code == 404
    r = anon.post("/api/v1/auth/token/", {"email": "newbie@x.test", "password": "a-long-enough-passphrase"})
    assert r.status_code == 201
    # An existing person (owner of beta) joins only with the account's own password.
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/invitations/", {"email": "owner@beta.test", "role": "admin"}).status_code == 201
    raw2 = _mailed_invitation_token(mail.outbox, "owner@beta.test")
    assert anon.post("/api/v1/invitations/accept/", {"token": raw2}).status_code == 400
    assert anon.post("/api/v1/invitations/accept/", {"token": raw2, "password": "not-the-password"}).status_code == 401
    assert not Membership.objects.filter(tenant=tenant_a, user__email="owner@beta.test").exists()
    r = anon.post("/api/v1/invitations/accept/", {"token": raw2, "password": TEST_PASSWORD})
    assert r.status_code == 201
    assert r.json()["role"] == "admin"
    assert anon.post("/api/v1/invitations/accept/", {"token": "inv_x_y"}).status_code == 404


def test_audit_events_record_actor_ip_request_id_and_filter(tenant_a, owner_a):
    api = Api(tenant_a, user=owner_a)
    r = api.post("/api/v1/projects/", {"name": "Audited"}, HTTP_X_REQUEST_ID="req-123")
    assert r.status_code == 201
    assert r["X-Request-ID"] == "req-123"
    events = api.get("/api/v1/audit-events/", {"action": "project.created", "actor_id": owner_a.pk}).json()
    event = events["results"][0]
    assert event["request_id"] == "req-123"
    assert event["ip"] == "127.0.0.1"
    assert event["actor_email"] == "owner@alpha.test"
    assert event["target_id"] == str(r.json()["id"])
    today = timezone.now().date().isoformat()
    assert api.get("/api/v1/audit-events/", {"date": today}).json()["count"] >= 1
    assert api.get("/api/v1/audit-events/", {"action": "nothing.like.this"}).json()["count"] == 0
    # A generated request id when none is sent.
    r = api.post("/api/v1/projects/", {"name": "Audited 2"})
    assert len(r["X-Request-ID"]) >= 16
    assert audit_count(tenant_a) >= 2


def test_datetime_filters_accept_offsets_postgres_cannot_store(tenant_a, owner_a):
    """Found by schemathesis: +23:11 is valid ISO 8601 but beyond PostgreSQL's ±15:59."""
    api = Api(tenant_a, user=owner_a)
    assert api.get("/api/v1/projects/", {"created_after": "0606-06-13T18:10:51+23:11"}).status_code == 200
    assert api.get("/api/v1/audit-events/", {"created_before": "0001-01-01T00:00:00+23:00"}).status_code == 400
