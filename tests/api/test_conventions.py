"""ETag / If-None-Match / If-Match (D62), rate-limit headers (D63), token scopes (D64), CORS (D65) and
cursor pagination (D66)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from shared_apps.accounts.models import User
from tenant_apps.projects.models import Task
from tenant_apps.tokens.services import api_token_create
from tenants.base.actor import Actor
from tenants.base.api.models import CorsOrigin
from tests.factories import TEST_PASSWORD
from tests.support.api import Api, grant, make_project, set_limits, snapshot

pytestmark = pytest.mark.django_db


def _token(tenant: Any, user: User, scopes: list[str] | None = None) -> str:
    with schema_context(tenant.schema_name):
        return api_token_create(actor=Actor(user=user), user=user, scopes=scopes)[1]


# --- ETags ----------------------------------------------------------------------------------------


def test_etag_and_if_none_match(tenant_a, owner_a) -> None:
    api = Api(tenant_a, user=owner_a)
    project = make_project(tenant_a, owner_a, "Tagged")
    first = api.get(f"/api/v1/projects/{project.pk}/")
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert len(etag) > 10
    not_modified = api.get(f"/api/v1/projects/{project.pk}/", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["ETag"] == etag
    changed = api.patch(f"/api/v1/projects/{project.pk}/", {"name": "Retagged"})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert api.get(f"/api/v1/projects/{project.pk}/", HTTP_IF_NONE_MATCH=etag).status_code == 200
    assert api.get(f"/api/v1/projects/{project.pk}/", HTTP_IF_NONE_MATCH=changed.headers["ETag"]).status_code == 304


def test_stale_if_match_is_412_and_nothing_changes(tenant_a, owner_a) -> None:
    api = Api(tenant_a, user=owner_a)
    project = make_project(tenant_a, owner_a, "Guarded")
    task = api.post(f"/api/v1/projects/{project.pk}/tasks/", {"title": "T"}).json()
    stale = api.get(f"/api/v1/projects/{project.pk}/").headers["ETag"]
    assert api.patch(f"/api/v1/projects/{project.pk}/", {"description": "by someone else"}).status_code == 200
    before = snapshot(tenant_a)
    for method, path, body in [
        ("patch", f"/api/v1/projects/{project.pk}/", {"name": "Mine"}),
        ("delete", f"/api/v1/projects/{project.pk}/", None),
        ("patch", f"/api/v1/projects/{project.pk}/tasks/{task['id']}/", {"title": "Mine"}),
        ("delete", f"/api/v1/projects/{project.pk}/tasks/{task['id']}/", None),
    ]:
        response = getattr(api, method)(path, body, HTTP_IF_MATCH=stale)
        assert response.status_code == 412, (method, path)
        assert response.json()["error"]["code"] == "precondition_failed"
    assert snapshot(tenant_a) == before
    current = api.get(f"/api/v1/projects/{project.pk}/").headers["ETag"]
    ok = api.patch(f"/api/v1/projects/{project.pk}/", {"name": "Mine"}, HTTP_IF_MATCH=current)
    assert ok.status_code == 200
    assert ok.json()["name"] == "Mine"
    task_etag = api.get(f"/api/v1/projects/{project.pk}/tasks/{task['id']}/").headers["ETag"]
    assert api.delete(f"/api/v1/projects/{project.pk}/tasks/{task['id']}/", HTTP_IF_MATCH=task_etag).status_code == 204
    assert api.delete(f"/api/v1/projects/{project.pk}/", HTTP_IF_MATCH="*").status_code == 204


def test_members_and_invitations_have_etags_and_refuse_a_stale_if_match(tenant_a, owner_a, member_factory) -> None:
    from shared_apps.accounts.models import Membership

    api = Api(tenant_a, user=owner_a)
    bea = member_factory(tenant_a)
    member = api.get(f"/api/v1/members/{bea.pk}/")
    assert member.status_code == 200
    assert member.json()["role"] == "member"
    stale = member.headers["ETag"]
    assert api.get(f"/api/v1/members/{bea.pk}/", HTTP_IF_NONE_MATCH=stale).status_code == 304
    assert api.patch(f"/api/v1/members/{bea.pk}/", {"role": "billing"}).status_code == 200  # someone else
    before = snapshot(tenant_a)
    for method, body in (("patch", {"role": "admin"}), ("delete", None)):
        response = getattr(api, method)(f"/api/v1/members/{bea.pk}/", body, HTTP_IF_MATCH=stale)
        assert response.status_code == 412, method
        assert response.json()["error"]["code"] == "precondition_failed"
    assert snapshot(tenant_a) == before
    assert Membership.objects.get(tenant=tenant_a, user=bea).role == "billing"
    current = api.get(f"/api/v1/members/{bea.pk}/").headers["ETag"]
    assert api.patch(f"/api/v1/members/{bea.pk}/", {"role": "admin"}, HTTP_IF_MATCH=current).status_code == 200

    invitation = api.post("/api/v1/invitations/", {"email": "cleo@example.test", "role": "member"}).json()
    read = api.get(f"/api/v1/invitations/{invitation['id']}/")
    assert read.status_code == 200
    assert read.json()["status"] == "pending"
    assert api.delete(f"/api/v1/invitations/{invitation['id']}/", HTTP_IF_MATCH='"not-the-etag"').status_code == 412
    assert api.get(f"/api/v1/invitations/{invitation['id']}/").json()["status"] == "pending"
    deleted = api.delete(f"/api/v1/invitations/{invitation['id']}/", HTTP_IF_MATCH=read.headers["ETag"])
    assert deleted.status_code == 204
    assert api.get(f"/api/v1/invitations/{invitation['id']}/").json()["status"] == "revoked"


# --- Rate-limit headers ---------------------------------------------------------------------------


def test_every_response_carries_ratelimit_headers_and_429_has_retry_after(tenant_a, owner_a, settings) -> None:
    set_limits(settings, api_rpm=8)  # 4 a minute for one credential
    raw = _token(tenant_a, owner_a)
    api = Api(tenant_a, token=raw)
    first = api.get("/api/v1/me/")
    assert first.status_code == 200
    assert first.headers["RateLimit-Limit"] == "4"
    assert first.headers["RateLimit-Remaining"] == "3"
    assert 1 <= int(first.headers["RateLimit-Reset"]) <= 60
    remaining = [int(api.get("/api/v1/projects/").headers["RateLimit-Remaining"]) for _ in range(3)]
    assert remaining == [2, 1, 0]
    refused = api.get("/api/v1/me/")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Refused before throttling (bad token): the headers of the caller's budget, peeked.
    anonymous = Api(tenant_a).get("/api/v1/me/")
    assert anonymous.status_code == 401
    assert "RateLimit-Limit" in anonymous.headers


def test_unlimited_plan_has_no_ratelimit_headers(tenant_a, owner_a, settings) -> None:
    set_limits(settings, api_rpm=None)
    response = Api(tenant_a, user=owner_a).get("/api/v1/me/")
    assert response.status_code == 200
    assert "RateLimit-Limit" not in response.headers


# --- Scopes ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("owner_a")
@pytest.mark.parametrize(
    ("scopes", "expected"),
    [(["read"], ["read"]), (["write"], ["read", "write"]), (["admin"], ["read", "write", "admin"])],
)
def test_token_exchange_with_scopes_and_me_shows_them(tenant_a, scopes, expected) -> None:
    r = Api(tenant_a).post(
        "/api/v1/auth/token/", {"email": "owner@alpha.test", "password": TEST_PASSWORD, "scopes": scopes}
    )
    assert r.status_code == 201
    assert r.json()["scopes"] == expected
    me = Api(tenant_a, token=r.json()["token"]).get("/api/v1/me/").json()
    assert me["credential"] == {"type": "token", "scopes": expected}


def test_session_and_default_tokens_have_full_access(tenant_a, owner_a) -> None:
    assert Api(tenant_a, user=owner_a).get("/api/v1/me/").json()["credential"] == {
        "type": "session",
        "scopes": ["read", "write", "admin"],
    }
    r = Api(tenant_a).post("/api/v1/auth/token/", {"email": "owner@alpha.test", "password": TEST_PASSWORD})
    assert r.json()["scopes"] == ["read", "write", "admin"]


@pytest.mark.parametrize("scopes", [[], ["root"], "read", ["read"] * 4])
def test_bad_scopes_are_400_and_no_token(tenant_a, scopes) -> None:
    before = snapshot(tenant_a)["tokens"]
    r = Api(tenant_a).post(
        "/api/v1/auth/token/", {"email": "owner@alpha.test", "password": TEST_PASSWORD, "scopes": scopes}
    )
    assert r.status_code == 400
    assert "scopes" in r.json()["error"]["fields"]
    assert snapshot(tenant_a)["tokens"] == before


def test_read_token_cannot_write_and_nothing_changes(tenant_a, owner_a) -> None:
    project = make_project(tenant_a, owner_a, "Read only")
    api = Api(tenant_a, token=_token(tenant_a, owner_a, ["read"]))
    assert api.get("/api/v1/projects/").status_code == 200
    before = snapshot(tenant_a)
    for method, path, body in [
        ("post", "/api/v1/projects/", {"name": "No"}),
        ("patch", f"/api/v1/projects/{project.pk}/", {"name": "No"}),
        ("delete", f"/api/v1/projects/{project.pk}/", None),
        ("post", "/api/v1/invitations/", {"email": "x@example.com", "role": "member"}),
    ]:
        response = getattr(api, method)(path, body)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "insufficient_scope"
    assert snapshot(tenant_a) == before


def test_write_token_cannot_administer(tenant_a, owner_a, member_factory) -> None:
    bob = member_factory(tenant_a)
    project = make_project(tenant_a, owner_a, "Write")
    api = Api(tenant_a, token=_token(tenant_a, owner_a, ["write"]))
    assert api.post("/api/v1/projects/", {"name": "Yes"}).status_code == 201
    before = snapshot(tenant_a)
    for method, path, body in [
        ("post", "/api/v1/invitations/", {"email": "x@example.com", "role": "member"}),
        ("post", f"/api/v1/projects/{project.pk}/permissions/", {"user_id": bob.pk, "permissions": ["view"]}),
        ("patch", f"/api/v1/members/{bob.pk}/", {"role": "admin"}),
        ("get", "/api/v1/audit-events/", None),
        ("put", "/api/v1/organization/cors-origins/", {"origins": ["https://x.example"]}),
    ]:
        response = api.get(path) if method == "get" else getattr(api, method)(path, body)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "insufficient_scope"
    assert snapshot(tenant_a) == before
    admin = Api(tenant_a, token=_token(tenant_a, owner_a, ["admin"]))
    assert admin.get("/api/v1/audit-events/").status_code == 200


@pytest.mark.usefixtures("owner_a")
def test_scope_does_not_widen_a_role(tenant_a, member_factory) -> None:
    """An admin-scoped token of a plain member is still a plain member (403 permission_denied, or 404)."""
    bob = member_factory(tenant_a)
    api = Api(tenant_a, token=_token(tenant_a, bob, ["admin"]))
    response = api.post("/api/v1/invitations/", {"email": "x@example.com", "role": "member"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_existing_tokens_keep_full_access_after_the_migration() -> None:
    from tenant_apps.tokens.migrations import __path__ as migrations_path  # noqa: F401
    from tenant_apps.tokens.models import ApiToken

    field = ApiToken._meta.get_field("scopes")
    assert field.get_default() == ["read", "write", "admin"]  # what AddField wrote into existing rows


# --- CORS -----------------------------------------------------------------------------------------


def _origins(tenant: Any, *origins: str) -> None:
    for origin in origins:
        CorsOrigin.objects.create(tenant_id=tenant.pk, origin=origin)
    from django.core.cache import cache

    cache.delete(f"api-cors:{tenant.schema_name}:{tenant.pk}")


def test_preflight_for_a_listed_origin_without_authentication(tenant_a, tenant_b) -> None:
    _origins(tenant_a, "https://app.example.com")
    api = Api(tenant_a)
    preflight = api.client.options(
        "/api/v1/projects/",
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key, if-match",
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "idempotency-key" in allowed
    assert "if-match" in allowed
    assert "authorization" in allowed
    actual = api.get("/api/v1/me/", HTTP_ORIGIN="https://app.example.com")
    assert actual.status_code == 401
    assert actual.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "RateLimit-Remaining" in actual.headers["Access-Control-Expose-Headers"]
    # Another origin, or the same origin on another organization: no CORS headers at all.
    other = api.client.options(
        "/api/v1/projects/", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in other.headers
    beta = Api(tenant_b).client.options(
        "/api/v1/projects/", HTTP_ORIGIN="https://app.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in beta.headers


def test_cors_origins_api(tenant_a, owner_a, member_factory) -> None:
    api = Api(tenant_a, user=owner_a)
    r = api.put(
        "/api/v1/organization/cors-origins/",
        {"origins": ["https://App.Example.com:443/", "http://localhost:3000", "http://localhost:3000"]},
    )
    assert r.status_code == 200, r.content
    assert r.json() == {"origins": ["http://localhost:3000", "https://app.example.com"]}
    preflight = api.client.options(
        "/api/v1/me/", HTTP_ORIGIN="http://localhost:3000", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    before = snapshot(tenant_a)
    for bad in (
        ["javascript:alert(1)"],
        ["https://x.example/path"],
        ["ftp://x.example"],
        ["https://u:p@x.example"],
        "x",
    ):
        r = api.put("/api/v1/organization/cors-origins/", {"origins": bad})
        assert r.status_code == 400, bad
    assert snapshot(tenant_a) == before
    bob = member_factory(tenant_a)
    denied = Api(tenant_a, user=bob).put("/api/v1/organization/cors-origins/", {"origins": []})
    assert denied.status_code == 403
    assert api.get("/api/v1/organization/cors-origins/").json()["origins"] == [
        "http://localhost:3000",
        "https://app.example.com",
    ]


# --- Cursor pagination ----------------------------------------------------------------------------


def _walk(api: Api, path: str, params: dict, key: str = "id") -> list[int]:
    ids: list[int] = []
    response = api.get(path, {**params, "cursor": ""})
    while True:
        body = response.json()
        assert response.status_code == 200
        assert "count" not in body
        ids += [row[key] for row in body["results"]]
        if not body["next"]:
            return ids
        response = api.client.get(body["next"])


def test_cursor_walks_every_visible_row_once_in_order(tenant_a, owner_a, member_factory) -> None:
    bob = member_factory(tenant_a)
    projects = [make_project(tenant_a, owner_a, f"C{i:02d}") for i in range(23)]
    for p in projects[::2]:
        grant(tenant_a, p, bob, "view")
    api = Api(tenant_a, user=bob)
    paged = api.get("/api/v1/projects/", {"page_size": 100}).json()
    walked = _walk(api, "/api/v1/projects/", {"page_size": 5})
    assert walked == [r["id"] for r in paged["results"]]
    assert len(walked) == 12
    by_name = _walk(api, "/api/v1/projects/", {"page_size": 4, "ordering": "name"})
    assert by_name == [p.pk for p in projects[::2]]


def test_cursor_is_stable_under_inserts_and_previous_goes_back(tenant_a, owner_a) -> None:
    for i in range(10):
        make_project(tenant_a, owner_a, f"S{i}")
    api = Api(tenant_a, user=owner_a)
    page1 = api.get("/api/v1/projects/", {"page_size": 4, "cursor": ""}).json()
    assert page1["previous"] is None
    make_project(tenant_a, owner_a, "Inserted meanwhile")  # newest first: would shift page numbers
    page2 = api.client.get(page1["next"]).json()
    ids1, ids2 = [r["id"] for r in page1["results"]], [r["id"] for r in page2["results"]]
    assert not set(ids1) & set(ids2)
    assert max(ids2) < min(ids1)
    back = api.client.get(page2["previous"]).json()
    assert [r["id"] for r in back["results"]] == ids1


def test_cursor_on_tasks_with_a_nullable_ordering(tenant_a, owner_a) -> None:
    project = make_project(tenant_a, owner_a, "Dates")
    api = Api(tenant_a, user=owner_a)
    for i in range(9):
        body: dict[str, Any] = {"title": f"T{i}"}
        if i % 3:
            body["due_date"] = f"2026-01-0{1 + i % 4}"
        assert api.post(f"/api/v1/projects/{project.pk}/tasks/", body).status_code == 201
    with schema_context(tenant_a.schema_name):
        rows = {t.pk: t for t in Task.objects.filter(project_id=project.pk)}
    for ordering, key in (
        ("due_date", lambda t: (t.due_date is None, t.due_date, t.pk)),  # NULLs last ascending, id breaks ties
        ("-due_date", lambda t: (t.due_date is not None, -(t.due_date.toordinal() if t.due_date else 0), -t.pk)),
        (
            "status,-due_date",
            lambda t: (t.status, t.due_date is not None, -(t.due_date.toordinal() if t.due_date else 0), -t.pk),
        ),
    ):
        walked = _walk(api, f"/api/v1/projects/{project.pk}/tasks/", {"ordering": ordering, "page_size": 2})
        assert walked == [t.pk for t in sorted(rows.values(), key=key)], ordering
    with schema_context(tenant_a.schema_name):
        assert Task.objects.filter(project_id=project.pk).count() == 9


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        base64.urlsafe_b64encode(b'{"o":["x"],"v":[1]}').decode(),
        base64.urlsafe_b64encode(b"[]").decode(),
        base64.urlsafe_b64encode(b'{"o":["-created_at","-id"],"v":["not a date",1]}').decode(),
        "A" * 5000,
    ],
)
def test_bad_cursor_is_400(tenant_a, owner_a, cursor) -> None:
    r = Api(tenant_a, user=owner_a).get("/api/v1/projects/", {"cursor": cursor})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_cursor"


def test_cursor_of_one_ordering_is_refused_with_another(tenant_a, owner_a) -> None:
    for i in range(3):
        make_project(tenant_a, owner_a, f"O{i}")
    api = Api(tenant_a, user=owner_a)
    nxt = api.get("/api/v1/projects/", {"page_size": 1, "cursor": ""}).json()["next"]
    token = nxt.split("cursor=")[1].split("&")[0]
    r = api.get("/api/v1/projects/", {"page_size": 1, "cursor": token, "ordering": "name"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_cursor"


def test_cursor_pages_skip_the_count_and_cost_the_same_queries(tenant_a, owner_a) -> None:
    for i in range(12):
        make_project(tenant_a, owner_a, f"Q{i}")
    api = Api(tenant_a, user=owner_a)
    api.get("/api/v1/projects/", {"page_size": 3, "cursor": ""})  # warm
    counts = []
    url = None
    for _ in range(4):
        with CaptureQueriesContext(connection) as ctx:
            response = api.client.get(url) if url else api.get("/api/v1/projects/", {"page_size": 3, "cursor": ""})
        counts.append(len(ctx.captured_queries))
        assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)
        url = response.json()["next"]
    assert len(set(counts)) == 1, counts


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/members/", {}),
        ("/api/v1/members/", {"ordering": "user__email"}),
        ("/api/v1/members/", {"ordering": "-role"}),
        ("/api/v1/invitations/", {}),
        ("/api/v1/audit-events/", {}),
        ("/api/v1/auth/tokens/", {}),
        ("/api/v1/projects/", {"ordering": "-updated_at", "search": "L"}),
    ],
)
def test_every_list_takes_a_cursor(tenant_a, owner_a, member_factory, path, params) -> None:
    for i in range(5):
        member_factory(tenant_a)
        make_project(tenant_a, owner_a, f"L{i}")
        _token(tenant_a, owner_a)
    api = Api(tenant_a, user=owner_a)
    with schema_context(tenant_a.schema_name):
        from tenant_apps.invitations.services import invitation_create

        for i in range(3):
            invitation_create(
                actor=Actor(user=owner_a), actor_role="owner", tenant=tenant_a, email=f"c{i}@x.test", role="member"
            )
    key = "user_id" if path == "/api/v1/members/" else "id"
    paged = api.get(path, {**params, "page_size": 100}).json()
    walked = _walk(api, path, {**params, "page_size": 2}, key)
    assert len(walked) == paged["count"] >= 3
    assert sorted(walked) == sorted(r[key] for r in paged["results"])
    if params.get("ordering", "").lstrip("-") != "role":  # page numbers have no tie-breaker for equal roles
        assert walked == [r[key] for r in paged["results"]]
