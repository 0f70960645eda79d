"""List endpoints: the number of queries does not grow with the page size. OpenAPI: clean and fuzzed."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Role
from tenant_apps.invitations.services import invitation_create
from tenant_apps.projects.services import task_create
from tenant_apps.tokens.services import api_token_create
from tenants.base.actor import Actor
from tests.support.api import Api, grant, make_project

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/projects/",
    "/api/v1/projects/{pid}/tasks/",
    "/api/v1/projects/{pid}/permissions/",
    "/api/v1/members/",
    "/api/v1/invitations/",
    "/api/v1/audit-events/",
    "/api/v1/auth/tokens/",
]


@pytest.fixture
def populated(tenant_a, owner_a, member_factory):
    """Enough rows that a page of 1 and a page of 100 differ, for a plain member and an owner."""
    alice = member_factory(tenant_a, Role.MEMBER)
    projects = [make_project(tenant_a, owner_a, name=f"P{i}") for i in range(6)]
    for project in projects:
        grant(tenant_a, project, alice, "view", "manage")
    with schema_context(tenant_a.schema_name):
        for i in range(6):
            task_create(actor=Actor(user=owner_a), tenant=tenant_a, project=projects[0], title=f"T{i}")
            invitation_create(
                actor=Actor(user=owner_a), actor_role="owner", tenant=tenant_a, email=f"i{i}@x.test", role="member"
            )
            api_token_create(actor=Actor(user=alice), user=alice)
            api_token_create(actor=Actor(user=owner_a), user=owner_a)
    for _ in range(4):
        grant(tenant_a, projects[0], member_factory(tenant_a, Role.MEMBER), "view", "change")
    return {"alice": alice, "pid": projects[0].pk}


def _count(api: Api, path: str, page_size: int) -> tuple[int, int]:
    api.get(path, {"page_size": page_size})  # warm caches (tenant resolution, content types)
    with CaptureQueriesContext(connection) as ctx:
        r = api.get(path, {"page_size": page_size})
    assert r.status_code == 200, r.content
    body = r.json()
    rows = len(body["results"]) if isinstance(body, dict) else len(body)
    return len(ctx.captured_queries), rows


ADMIN_ONLY_LISTS = ("/api/v1/invitations/", "/api/v1/audit-events/")
LIST_CASES = [("owner", p) for p in LISTS] + [("alice", p) for p in LISTS if p not in ADMIN_ONLY_LISTS]


@pytest.mark.parametrize(("who", "path"), LIST_CASES)
def test_list_query_count_does_not_grow_with_page_size(populated, tenant_a, owner_a, who, path):
    user = populated["alice"] if who == "alice" else owner_a
    api = Api(tenant_a, user=user)
    url = path.format(pid=populated["pid"])
    small, small_rows = _count(api, url, 1)
    big, big_rows = _count(api, url, 100)
    assert big_rows > small_rows or path.endswith("permissions/")
    assert big == small, f"{url}: {small} queries for page_size=1, {big} for 100"
    assert big <= 8
    print(f"QUERIES {who} {url}: {big}")


@pytest.mark.usefixtures("populated")
def test_page_size_is_capped(tenant_a, owner_a):
    r = Api(tenant_a, user=owner_a).get("/api/v1/audit-events/", {"page_size": 1000})
    assert r.status_code == 200
    assert len(r.json()["results"]) <= 100


def test_openapi_schema_generates_without_warnings():
    out = io.StringIO()
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--urlconf",
        "config.urls_tenant",  # the whole tenant host: API and billing
        stdout=out,
    )
    schema = out.getvalue()
    for fragment in (
        '"bearerAuth"',
        '"cookieAuth"',
        '"ErrorEnvelope"',
        "/api/v1/projects/{project_id}/tasks/",
        "/api/v1/billing/checkout/",
    ):
        assert fragment in schema


def test_schema_and_docs_are_served_on_a_tenant_host(tenant_a):
    api = Api(tenant_a)
    r = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    assert b"/api/v1/me/" in r.content
    assert api.get("/api/docs/").status_code == 200
