"""Every endpoint x {anonymous, another tenant's member, member without the permission, member with it,
member with it through a team, admin}. Denied cases assert that nothing changed, audit log included."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Role
from tenant_apps.invitations.services import invitation_create
from tenant_apps.projects.services import task_create
from tenant_apps.tokens.services import api_token_create
from tenants.base.actor import Actor
from tests.support.api import Api, grant, grant_team, make_project, make_team, snapshot

pytestmark = pytest.mark.django_db

ACTORS = ("anon", "other_tenant", "without", "with", "via_team", "admin")


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    ok: int  # status for "with" and "admin"
    denied: int = 404  # status for "without"
    body: dict[str, Any] | None = None
    without_role: str = Role.MEMBER
    without_perms: tuple[str, ...] = ()
    with_role: str = Role.MEMBER
    with_perms: tuple[str, ...] = ()
    admin: int | None = None  # when the admin's answer differs from `ok`
    via_team: int | None = None  # when the answer to `with_perms` held through a team differs from `ok`
    overrides: dict[str, int] = field(default_factory=dict)


P = "/api/v1/projects/{pid}/"
T = "/api/v1/projects/{pid}/tasks/{tid}/"
CASES = [
    Case("projects_list", "get", "/api/v1/projects/", 200, denied=200),
    Case("projects_create", "post", "/api/v1/projects/", 201, 403, {"name": "New"}, without_role=Role.BILLING),
    Case("project_get", "get", P, 200, 404, with_perms=("view",)),
    Case(
        "project_patch",
        "patch",
        P,
        200,
        403,
        {"name": "Renamed"},
        without_perms=("view",),
        with_perms=("view", "change"),
    ),
    Case("project_delete", "delete", P, 204, 403, without_perms=("view", "change"), with_perms=("view", "delete")),
    Case("tasks_list", "get", P + "tasks/", 200, 404, with_perms=("view",)),
    Case(
        "task_create",
        "post",
        P + "tasks/",
        201,
        403,
        {"title": "T2"},
        without_perms=("view",),
        with_perms=("view", "change"),
    ),
    Case("task_get", "get", T, 200, 404, with_perms=("view",)),
    Case(
        "task_patch", "patch", T, 200, 403, {"status": "done"}, without_perms=("view",), with_perms=("view", "change")
    ),
    Case("task_delete", "delete", T, 204, 403, without_perms=("view",), with_perms=("view", "change")),
    Case(
        "perms_list",
        "get",
        P + "permissions/",
        200,
        403,
        without_perms=("view", "change"),
        with_perms=("view", "manage"),
    ),
    Case(
        "perms_grant",
        "post",
        P + "permissions/",
        200,
        403,
        {"user_id": "{carol}", "permissions": ["change"]},
        without_perms=("view", "change"),
        with_perms=("view", "manage"),
    ),
    Case(
        "perms_revoke",
        "delete",
        P + "permissions/?user_id={carol}&permissions=view",
        200,
        403,
        without_perms=("view", "change"),
        with_perms=("view", "manage"),
    ),
    Case("members_list", "get", "/api/v1/members/", 200, denied=200, without_role=Role.BILLING),
    Case("member_patch", "patch", "/api/v1/members/{carol}/", 200, 403, {"role": "admin"}, with_role=Role.OWNER),
    Case("member_delete", "delete", "/api/v1/members/{carol}/", 204, 403, with_role=Role.OWNER),
    Case("invitations_list", "get", "/api/v1/invitations/", 200, 403, with_role=Role.OWNER),
    Case("invitation_create", "post", "/api/v1/invitations/", 201, 403, {"email": "new@x.test"}, with_role=Role.OWNER),
    # Who may grant which role: one rule (shared_apps.accounts.policies). Only owners make owners.
    Case(
        "admin_invites_an_owner",
        "post",
        "/api/v1/invitations/",
        201,
        403,
        {"email": "boss@x.test", "role": "owner"},
        without_role=Role.ADMIN,  # "without": an admin too; "with": an owner
        with_role=Role.OWNER,
        admin=403,
    ),
    Case(
        "admin_promotes_to_owner",
        "patch",
        "/api/v1/members/{carol}/",
        200,
        403,
        {"role": "owner"},
        without_role=Role.ADMIN,
        with_role=Role.OWNER,
        admin=403,
    ),
    Case("invitation_revoke", "delete", "/api/v1/invitations/{iid}/", 204, 403, with_role=Role.OWNER),
    Case("audit_list", "get", "/api/v1/audit-events/", 200, 403, with_role=Role.OWNER),
    Case("cors_origins_get", "get", "/api/v1/organization/cors-origins/", 200, 403, with_role=Role.OWNER),
    Case(
        "cors_origins_put",
        "put",
        "/api/v1/organization/cors-origins/",
        200,
        403,
        {"origins": ["https://app.example.com"]},
        with_role=Role.OWNER,
    ),
    Case("me", "get", "/api/v1/me/", 200, denied=200),
    Case("tokens_list", "get", "/api/v1/auth/tokens/", 200, denied=200),
    Case("token_revoke", "delete", "/api/v1/auth/tokens/{tokid}/", 204, 404, admin=404, via_team=404),
    # Teams (issue #18): every member but billing sees them; owners and admins manage them.
    Case("teams_list", "get", "/api/v1/teams/", 200, denied=404, without_role=Role.BILLING),
    Case("team_get", "get", "/api/v1/teams/{team}/", 200, denied=200),
    Case("team_create", "post", "/api/v1/teams/", 201, 403, {"name": "Design"}, with_role=Role.ADMIN),
    Case("team_patch", "patch", "/api/v1/teams/{team}/", 200, 403, {"name": "Renamed"}, with_role=Role.OWNER),
    Case("team_delete", "delete", "/api/v1/teams/{team}/", 204, 403, with_role=Role.OWNER),
    Case("team_members_list", "get", "/api/v1/teams/{team}/members/", 200, denied=200),
    Case(
        "team_member_add",
        "post",
        "/api/v1/teams/{team}/members/",
        201,
        403,
        {"user_id": "{owner}"},
        with_role=Role.ADMIN,
    ),
    Case("team_member_remove", "delete", "/api/v1/teams/{team}/members/{carol}/", 204, 403, with_role=Role.OWNER),
    Case(
        "team_perms_list",
        "get",
        P + "team-permissions/",
        200,
        403,
        without_perms=("view", "change"),
        with_perms=("view", "manage"),
    ),
    Case(
        "team_perms_grant",
        "post",
        P + "team-permissions/",
        200,
        403,
        {"team_id": "{team}", "permissions": ["change"]},
        without_perms=("view", "change"),
        with_perms=("view", "manage"),
    ),
    Case(
        "team_perms_revoke",
        "delete",
        P + "team-permissions/?team_id={team}&permissions=view",
        200,
        403,
        without_perms=("view", "change"),
        with_perms=("view", "manage"),
    ),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str):
        filled = value.format(**ids)
        return int(filled) if value.startswith("{") and value.endswith("}") else filled
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matrix(case: Case, actor: str, tenant_a, tenant_b, owner_a, member_factory):
    project = make_project(tenant_a, owner_a)
    carol = member_factory(tenant_a, Role.MEMBER)
    grant(tenant_a, project, carol, "view")
    without = member_factory(tenant_a, case.without_role)
    with_ = member_factory(tenant_a, case.with_role)
    for user, perms in ((without, case.without_perms), (with_, case.with_perms)):
        if perms:
            grant(tenant_a, project, user, *perms)
    # "via_team": the same role as "with", holding `with_perms` only through a team (guardian group grants).
    via_team = member_factory(tenant_a, case.with_role)
    shared = make_team(tenant_a, "Shared", via_team)
    if case.with_perms:
        grant_team(tenant_a, project, shared, *case.with_perms)
    team = make_team(tenant_a, "Core", carol)
    grant_team(tenant_a, project, team, "view")
    admin = member_factory(tenant_a, Role.ADMIN)
    other = member_factory(tenant_b, Role.OWNER)
    with schema_context(tenant_a.schema_name):
        task = task_create(actor=Actor(user=owner_a), tenant=tenant_a, project=project, title="T1")
        invitation, _ = invitation_create(
            actor=Actor(user=owner_a), actor_role=Role.OWNER, tenant=tenant_a, email="inv@x.test", role="member"
        )
        token, _ = api_token_create(actor=Actor(user=with_), user=with_)
    ids = {
        "pid": project.pk,
        "tid": task.pk,
        "carol": carol.pk,
        "iid": invitation.pk,
        "tokid": token.pk,
        "team": team.pk,
        "owner": owner_a.pk,
    }

    clients = {
        "anon": Api(tenant_a),
        "other_tenant": Api(tenant_a, user=other),
        "without": Api(tenant_a, user=without),
        "with": Api(tenant_a, user=with_),
        "via_team": Api(tenant_a, user=via_team),
        "admin": Api(tenant_a, user=admin),
    }
    expected = {
        "anon": 401,
        "other_tenant": 404,
        "without": case.denied,
        "with": case.ok,
        "via_team": case.via_team if case.via_team is not None else case.ok,
        "admin": case.admin if case.admin is not None else case.ok,
    }[actor]

    before = snapshot(tenant_a)
    path = _fill(case.path, ids)
    body = _fill(case.body, ids)
    client = clients[actor]
    response = client.get(path) if case.method == "get" else getattr(client, case.method)(path, body)

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}
    after = snapshot(tenant_a)
    if expected >= 300 or case.method == "get":
        assert after == before, "a denied or read-only request changed data"
    else:
        assert len(after["audit"]) > len(before["audit"]), "a write left no audit event"


# The scope dimension (D64): the allowed actor ("with") again, through a token of each scope.
ADMIN_SCOPE_CASES = {
    "perms_list",
    "perms_grant",
    "perms_revoke",
    "member_patch",
    "member_delete",
    "invitations_list",
    "invitation_create",
    "admin_invites_an_owner",
    "admin_promotes_to_owner",
    "invitation_revoke",
    "audit_list",
    "cors_origins_get",
    "cors_origins_put",
    "team_create",
    "team_patch",
    "team_delete",
    "team_member_add",
    "team_member_remove",
    "team_perms_list",
    "team_perms_grant",
    "team_perms_revoke",
}
SCOPE_LEVELS = {"read": 0, "write": 1, "admin": 2}


def _needed(case: Case) -> str:
    if case.name in ADMIN_SCOPE_CASES:
        return "admin"
    return "read" if case.method == "get" else "write"


@pytest.mark.parametrize("scope", list(SCOPE_LEVELS))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_scope_matrix(case: Case, scope: str, tenant_a, owner_a, member_factory):
    project = make_project(tenant_a, owner_a)
    carol = member_factory(tenant_a, Role.MEMBER)
    grant(tenant_a, project, carol, "view")
    with_ = member_factory(tenant_a, case.with_role)
    if case.with_perms:
        grant(tenant_a, project, with_, *case.with_perms)
    with schema_context(tenant_a.schema_name):
        task = task_create(actor=Actor(user=owner_a), tenant=tenant_a, project=project, title="T1")
        invitation, _ = invitation_create(
            actor=Actor(user=owner_a), actor_role=Role.OWNER, tenant=tenant_a, email="inv@x.test", role="member"
        )
        token, _ = api_token_create(actor=Actor(user=with_), user=with_)
        _, raw = api_token_create(actor=Actor(user=with_), user=with_, scopes=[scope])
    team = make_team(tenant_a, "Core", carol)
    grant_team(tenant_a, project, team, "view")
    ids = {
        "pid": project.pk,
        "tid": task.pk,
        "carol": carol.pk,
        "iid": invitation.pk,
        "tokid": token.pk,
        "team": team.pk,
        "owner": owner_a.pk,
    }
    allowed = SCOPE_LEVELS[scope] >= SCOPE_LEVELS[_needed(case)]

    before = snapshot(tenant_a)
    client = Api(tenant_a, token=raw)
    path, body = _fill(case.path, ids), _fill(case.body, ids)
    response = client.get(path) if case.method == "get" else getattr(client, case.method)(path, body)

    after = snapshot(tenant_a)
    if allowed:
        assert response.status_code == case.ok, response.content
        if case.method != "get":
            assert len(after["audit"]) > len(before["audit"]), "a write left no audit event"
    else:
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "insufficient_scope"
        kept = ("projects", "tasks", "perms", "team_perms", "teams", "team_members", "invitations", "audit")
        for key in (*kept, "members", "cors"):
            assert after[key] == before[key], f"a request outside the token's scope changed {key}"

        def tokens(snap: dict) -> list:  # the calling token's last_used_at may move: bookkeeping
            return [{k: v for k, v in t.items() if k != "last_used_at"} for t in snap["tokens"]]

        assert tokens(after) == tokens(before)


def test_superuser_gets_no_implicit_access(tenant_a, owner_a, member_factory):
    """A platform superuser who is a plain member sees only what was shared; a non-member superuser 404s."""
    project = make_project(tenant_a, owner_a)
    member_super = member_factory(tenant_a, Role.MEMBER, is_superuser=True, is_staff=True)
    api = Api(tenant_a, user=member_super)
    assert api.get("/api/v1/projects/").json()["count"] == 0
    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 404
    from tests.factories import UserFactory

    outsider = UserFactory(is_superuser=True, is_staff=True)
    assert Api(tenant_a, user=outsider).get("/api/v1/projects/").status_code == 404


def test_billing_role_sees_no_projects_even_if_shared(tenant_a, owner_a, member_factory):
    project = make_project(tenant_a, owner_a)
    billing = member_factory(tenant_a, Role.BILLING)
    with schema_context(tenant_a.schema_name):
        from tenant_apps.projects.models import ProjectUserObjectPermission
        from tenant_apps.projects.selectors import project_permission_objects

        for perm in project_permission_objects(codenames={"view_project"}):
            ProjectUserObjectPermission.objects.create(user=billing, permission=perm, content_object=project)
    api = Api(tenant_a, user=billing)
    assert api.get("/api/v1/projects/").json()["count"] == 0
    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 404
