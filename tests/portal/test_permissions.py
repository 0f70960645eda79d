"""Who may open which portal page and who may post which action (Django test client).

Actors: anonymous; a member of another organization; a plain member; the billing role; an admin.
Projects and tasks (the second half) add members holding view, change or manage grants and the owner:
their rule is the API's (tenant_apps.projects policies): unseen → 404, seen but not allowed → 403.
Denied requests must change nothing: every table a portal action writes is compared before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django_tenants.utils import schema_context

from billing.services import plans_sync
from shared_apps.accounts.models import Role, User
from tenant_apps.invitations.models import Invitation
from tenant_apps.invitations.services import invitation_create
from tenant_apps.projects.models import Project
from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.services import api_token_create
from tenants.base.actor import Actor
from tenants.models import Tenant
from tests.support.api import make_project, snapshot
from tests.support.clients import portal_client

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
def world(tenant_a: Tenant, tenant_b: Tenant, owner_a: User, member_factory) -> World:
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
        assert response.status_code == 200, response.content[:800]
        assert state(world) != before, response.content[:800]
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


# --- Projects and tasks: the API's guardian rules ---------------------------------------------------

VIEWER, EDITOR, MANAGER, OWNER_P = "viewer", "editor", "manager", "owner"
VIA_TEAM = "via_team"  # holds view + change on the project only through a team (issue #18)
PROJECT_ACTORS = [ANONYMOUS, OUTSIDER, MEMBER, BILLING, VIEWER, EDITOR, VIA_TEAM, MANAGER, ADMIN, OWNER_P]
SEES = {VIEWER, EDITOR, VIA_TEAM, MANAGER, ADMIN, OWNER_P}  # may see the project
CHANGES = {EDITOR, VIA_TEAM, ADMIN, OWNER_P}  # hold change_project (tasks follow it)
SHARES = {MANAGER, ADMIN, OWNER_P}  # hold manage_project
DELETES = {ADMIN, OWNER_P}  # hold delete_project
CREATES = {MEMBER, VIEWER, EDITOR, VIA_TEAM, MANAGER, ADMIN, OWNER_P}  # project_create_allowed: every role but billing


@dataclass
class ProjectWorld:
    tenant: Tenant
    users: dict[str, User | None]
    project: Project
    task_id: int
    other_task_id: int  # a task of another project: never reachable through this one
    target: User
    crew_id: int  # the team through which VIA_TEAM holds its grants
    guests_id: int  # a team with no grants yet


@pytest.fixture
def pworld(tenant_a: Tenant, tenant_b: Tenant, owner_a: User, member_factory) -> ProjectWorld:
    from tenant_apps.projects.services import task_create
    from tests.support.api import grant, grant_team, make_team

    users: dict[str, User | None] = {
        ANONYMOUS: None,
        OUTSIDER: member_factory(tenant_b, Role.ADMIN),
        MEMBER: member_factory(tenant_a, Role.MEMBER),
        BILLING: member_factory(tenant_a, Role.BILLING),
        VIEWER: member_factory(tenant_a, Role.MEMBER),
        EDITOR: member_factory(tenant_a, Role.MEMBER),
        MANAGER: member_factory(tenant_a, Role.MEMBER),
        VIA_TEAM: member_factory(tenant_a, Role.MEMBER),
        ADMIN: member_factory(tenant_a, Role.ADMIN),
        OWNER_P: owner_a,
    }
    target = member_factory(tenant_a, Role.MEMBER)
    project = make_project(tenant_a, owner_a, "Apollo")
    other = make_project(tenant_a, owner_a, "Gemini")
    grant(tenant_a, project, users[VIEWER], "view")
    grant(tenant_a, project, users[EDITOR], "view", "change")
    grant(tenant_a, project, users[MANAGER], "view", "manage")
    crew = make_team(tenant_a, "Crew", users[VIA_TEAM])
    grant_team(tenant_a, project, crew, "view", "change")
    guests = make_team(tenant_a, "Guests")
    with schema_context(tenant_a.schema_name):
        task = task_create(actor=Actor(user=owner_a), tenant=tenant_a, project=project, title="Launch")
        other_task = task_create(actor=Actor(user=owner_a), tenant=tenant_a, project=other, title="Orbit")
    return ProjectWorld(tenant_a, users, project, task.pk, other_task.pk, target, crew.pk, guests.pk)


def _pfill(pw: ProjectWorld, value: Any) -> Any:
    ids = {
        "project": pw.project.pk,
        "task": pw.task_id,
        "target": pw.target.pk,
        "other_task": pw.other_task_id,
        "crew": pw.crew_id,
        "guests": pw.guests_id,
    }
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_pfill(pw, v) for v in value]
    return value


def _expected(actor: str, sees: set[str], allowed: set[str]) -> int:
    """The status a denied actor gets: sign-in, 404 when the thing is unseen, else 403."""
    if actor == ANONYMOUS:
        return 302
    if actor == OUTSIDER or actor not in sees:
        return 404
    return 200 if actor in allowed else 403


PROJECT_PAGES: list[tuple[str, set[str], set[str]]] = [
    # (path, who sees the object, who may open the page)
    ("/projects/", {MEMBER, BILLING, *SEES}, {MEMBER, BILLING, *SEES}),
    ("/projects/{project}/", SEES, SEES),
    ("/projects/{project}/edit/", SEES, CHANGES),
    ("/projects/{project}/tasks/{task}/", SEES, SEES),
]


@pytest.mark.parametrize("actor", PROJECT_ACTORS)
@pytest.mark.parametrize(("path", "sees", "allowed"), PROJECT_PAGES)
def test_project_page_access(pworld: ProjectWorld, path: str, sees: set[str], allowed: set[str], actor: str) -> None:
    response = portal_client(pworld.tenant, pworld.users[actor]).get(_pfill(pworld, path))
    expected = _expected(actor, sees, allowed)
    assert response.status_code == expected, (path, actor, response.status_code)
    if expected == 302:
        assert response["Location"].startswith("/login/?next=")
    if expected == 403:
        assert b"Not allowed" in response.content
    if path == "/projects/" and expected == 200:
        # The list is the API's visible set: a member without a grant (and billing) does not see Apollo.
        assert (b'data-project="Apollo"' in response.content) == (actor in SEES)
        assert (b'data-project="Gemini"' in response.content) == (actor in (ADMIN, OWNER_P))
    if path == "/projects/{project}/" and expected == 200:
        assert b'data-task="Launch"' in response.content
        # Controls are offered only to those who may use them.
        assert (b"Add task" in response.content) == (actor in CHANGES)
        assert (b"Delete project" in response.content) == (actor in DELETES)
        assert (b">Grant<" in response.content) == (actor in SHARES)


PROJECT_ACTIONS: list[tuple[str, str, dict[str, Any], set[str], set[str]]] = [
    # (name, path, form, who sees the object, who may do it)
    ("create project", "/projects/", {"name": "Zephyr"}, {MEMBER, BILLING, *SEES}, CREATES),
    ("rename project", "/projects/{project}/edit/", {"name": "Artemis", "description": "Moon"}, SEES, CHANGES),
    ("archive project", "/projects/{project}/archive/", {"archived": "1"}, SEES, CHANGES),
    ("delete project", "/projects/{project}/delete/", {}, SEES, DELETES),
    (
        "share project",
        "/projects/{project}/share/",
        {"user_id": "{target}", "permissions": ["view_project"]},
        SEES,
        SHARES,
    ),
    ("revoke project", "/projects/{project}/revoke/", {"user_id": "{target}"}, SEES, SHARES),
    (
        "share project with a team",
        "/projects/{project}/share-team/",
        {"team_id": "{guests}", "permissions": ["view_project"]},
        SEES,
        SHARES,
    ),
    ("revoke a team", "/projects/{project}/revoke-team/", {"team_id": "{crew}"}, SEES, SHARES),
    ("create task", "/projects/{project}/tasks/", {"title": "Test", "status": "todo"}, SEES, CHANGES),
    ("edit task", "/projects/{project}/tasks/{task}/", {"title": "Liftoff", "status": "in_progress"}, SEES, CHANGES),
    (
        "assign task",
        "/projects/{project}/tasks/{task}/",
        {"title": "Launch", "status": "todo", "assignee_id": "{target}"},
        SEES,
        CHANGES,
    ),
    ("complete task", "/projects/{project}/tasks/{task}/status/", {"status": "done"}, SEES, CHANGES),
    ("delete task", "/projects/{project}/tasks/{task}/delete/", {}, SEES, CHANGES),
    # Another project's task through this project's URL does not exist, whoever asks.
    (
        "complete a task of another project",
        "/projects/{project}/tasks/{other_task}/status/",
        {"status": "done"},
        SEES,
        set(),
    ),
]


@pytest.mark.parametrize("actor", PROJECT_ACTORS)
@pytest.mark.parametrize(
    ("name", "path", "data", "sees", "allowed"), PROJECT_ACTIONS, ids=[a[0] for a in PROJECT_ACTIONS]
)
def test_project_action_access(
    pworld: ProjectWorld, name: str, path: str, data: dict, sees: set[str], allowed: set[str], actor: str
) -> None:
    if name == "revoke project":  # something to revoke
        from tests.support.api import grant

        grant(pworld.tenant, pworld.project, pworld.target, "view")
    body = {k: _pfill(pworld, v) for k, v in data.items()}
    before = snapshot(pworld.tenant)
    response = portal_client(pworld.tenant, pworld.users[actor]).post(_pfill(pworld, path), body)
    expected = _expected(actor, sees, allowed)
    if "another project" in name and actor in sees:
        expected = 404
    if expected == 200:
        assert response.status_code == 302, (name, actor, response.status_code, response.content[:800])
        assert snapshot(pworld.tenant) != before, f"{name} by {actor} changed nothing"
        return
    assert response.status_code == expected, (name, actor, response.status_code)
    assert snapshot(pworld.tenant) == before, f"denied {name} by {actor} changed something"
