"""Who may open which portal page and who may post which action (Django test client).

Actors: anonymous; a member of another organization; a plain member; the billing role; an admin.
Denied requests must change nothing: every table a portal action writes is compared before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django_tenants.utils import schema_context

from billing.services import plans_sync
from shared_apps.accounts.models import Role, User
from tenant_apps.audit.services import Actor
from tenant_apps.invitations.models import Invitation
from tenant_apps.invitations.services import invitation_create
from tenant_apps.projects.models import Project
from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.services import api_token_create
from tenants.models import Tenant
from tests.api.conftest import make_project, snapshot
from tests.portal.conftest import portal_client

ADMIN, MEMBER, BILLING, OUTSIDER, ANONYMOUS = "admin", "member", "billing", "outsider", "anonymous"
ACTORS = [ANONYMOUS, OUTSIDER, MEMBER, BILLING, ADMIN]


@dataclass
class World:
    tenant: Tenant
    users: dict[str, User | None]
    project: Project
    invitation: Invitation
    token: ApiToken
    target: User  # a plain member the admin actions act on


@pytest.fixture
def world(tenant_a: Tenant, tenant_b: Tenant, owner_a: User, member_factory) -> World:  # type: ignore[no-untyped-def]
    users: dict[str, User | None] = {
        ANONYMOUS: None,
        OUTSIDER: member_factory(tenant_b, Role.ADMIN),
        MEMBER: member_factory(tenant_a, Role.MEMBER),
        BILLING: member_factory(tenant_a, Role.BILLING),
        ADMIN: member_factory(tenant_a, Role.ADMIN),
    }
    target = member_factory(tenant_a, Role.MEMBER)
    project = make_project(tenant_a, owner_a, "Apollo")
    with schema_context(tenant_a.schema_name):
        invitation, _ = invitation_create(
            actor=Actor(user=owner_a),
            actor_role=Role.OWNER,
            tenant=tenant_a,
            email="invitee@example.test",
            role=Role.MEMBER,
        )
        token, _ = api_token_create(actor=Actor(user=target), user=target, name="ci")
    return World(tenant_a, users, project, invitation, token, target)


def state(world: World) -> dict[str, Any]:
    tenant = Tenant.objects.get(pk=world.tenant.pk)
    return {**snapshot(world.tenant), "tenant": (tenant.name, tenant.status)}


# --- Pages (GET) -----------------------------------------------------------------------------------

PAGES: list[tuple[str, set[str]]] = [
    ("/", {MEMBER, BILLING, ADMIN}),
    ("/members/", {ADMIN}),
    ("/projects/", {ADMIN}),
    ("/projects/{project}/", {ADMIN}),
    ("/billing/", {BILLING}),
    ("/tokens/", {MEMBER, BILLING, ADMIN}),
    ("/audit/", {ADMIN}),
    ("/settings/", {ADMIN}),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("path", "allowed"), PAGES)
def test_page_access(world: World, path: str, allowed: set[str], actor: str) -> None:
    url = path.format(project=world.project.pk)
    response = portal_client(world.tenant, world.users[actor]).get(url)
    if actor == ANONYMOUS:
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    elif actor == OUTSIDER:
        assert response.status_code == 404
    elif actor in allowed:
        assert response.status_code == 200, response.content[:500]
        assert b"csrfmiddlewaretoken" in response.content or url == "/"
    else:
        assert response.status_code == 403
        assert b"Not allowed" in response.content


# --- Granting the owner role: only owners (shared_apps.accounts.policies, the same rule as the API) ---

OWNER = "owner"
OWNER_GRANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("admin invites an owner", "/members/invite/", {"email": "boss@example.test", "role": "owner"}),
    ("admin promotes to owner", "/members/{target}/role/", {"role": "owner"}),
]


@pytest.mark.parametrize("actor", [*ACTORS, OWNER])
@pytest.mark.parametrize(("name", "path", "data"), OWNER_GRANTS, ids=[g[0] for g in OWNER_GRANTS])
def test_only_an_owner_grants_the_owner_role(
    world: World, owner_a: User, name: str, path: str, data: dict, actor: str
) -> None:
    user = owner_a if actor == OWNER else world.users[actor]
    client = portal_client(world.tenant, user)
    if actor in (ADMIN, OWNER):
        # The form offers the owner role only to an owner.
        page = client.get("/members/")
        assert (b'<option value="owner"' in page.content) == (actor == OWNER)
    before = state(world)
    response = client.post(_fill(world, path), data, follow=actor in (ADMIN, OWNER))
    if actor == OWNER:
        assert response.status_code == 200 and state(world) != before, response.content[:800]
        return
    if actor == ADMIN:
        assert b"Only an owner can" in response.content, response.content[:800]
    else:
        assert response.status_code == {ANONYMOUS: 302, OUTSIDER: 404}.get(actor, 403)
    assert state(world) == before, f"denied {name} by {actor} changed something"


# --- Actions (POST) --------------------------------------------------------------------------------

ACTIONS: list[tuple[str, str, dict[str, Any], set[str]]] = [
    ("invite", "/members/invite/", {"email": "new@example.test", "role": "member"}, {ADMIN}),
    ("change role", "/members/{target}/role/", {"role": "admin"}, {ADMIN}),
    ("remove member", "/members/{target}/remove/", {}, {ADMIN}),
    ("resend invitation", "/invitations/{invitation}/resend/", {}, {ADMIN}),
    ("revoke invitation", "/invitations/{invitation}/revoke/", {}, {ADMIN}),
    ("share project", "/projects/{project}/share/", {"user_id": "{target}", "permissions": ["view_project"]}, {ADMIN}),
    ("revoke project", "/projects/{project}/revoke/", {"user_id": "{target}"}, {ADMIN}),
    ("rename", "/settings/", {"name": "Renamed Inc"}, {ADMIN}),
    ("create token", "/tokens/", {"name": "mine"}, {MEMBER, BILLING, ADMIN}),
    ("revoke someone else's token", "/tokens/{token}/revoke/", {}, set()),
    # Allowed: a redirect to the (stand-in) Stripe page; nothing in the tenant changes.
    ("checkout", "/billing/checkout/", {"plan": "team"}, {BILLING}),
    ("customer portal", "/billing/portal/", {}, {BILLING}),
]
STRIPE_ACTIONS = {"checkout", "customer portal"}


def _fill(world: World, value: Any) -> Any:
    ids = {"target": world.target.pk, "invitation": world.invitation.pk, "project": world.project.pk}
    ids["token"] = world.token.pk
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(world, v) for v in value]
    return value


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("name", "path", "data", "allowed"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_action_access(
    world: World, standin: Any, name: str, path: str, data: dict, allowed: set[str], actor: str
) -> None:
    url = _fill(world, path)
    body = {k: _fill(world, v) for k, v in data.items()}
    if name in STRIPE_ACTIONS:
        plans_sync()  # the stand-in starts empty; the catalog's prices must exist there
    before = state(world)
    response = portal_client(world.tenant, world.users[actor]).post(url, body)
    if actor in allowed and name in STRIPE_ACTIONS:
        assert response.status_code == 302, response.content[:800]
        assert response["Location"].startswith(standin.url)
        return
    if actor in allowed:
        assert response.status_code in (201, 302), response.content[:800]
        assert state(world) != before, f"{name} changed nothing"
        return
    expected = {ANONYMOUS: 302, OUTSIDER: 404}.get(actor)
    if name == "revoke someone else's token":
        expected = expected or 404  # somebody else's token does not exist for you
    assert response.status_code == (expected or 403), (name, actor, response.status_code)
    if actor == ANONYMOUS:
        assert response["Location"].startswith("/login/")
    assert state(world) == before, f"denied {name} by {actor} changed something"
