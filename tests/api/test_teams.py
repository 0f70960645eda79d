"""Teams (issue #18): guardian group object permissions through teams; what a member may do is the union
of their own grants and their teams'; leaving a team or the organization ends it on the next request."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Membership, Role
from shared_apps.accounts.services import membership_add, membership_remove
from tenant_apps.audit.models import AuditEvent
from tenant_apps.members.models import Team, TeamMember
from tenant_apps.projects.models import ProjectGroupObjectPermission
from tests.support.api import Api, grant, grant_team, make_project, make_team, snapshot

pytestmark = pytest.mark.django_db


def test_owner_builds_a_team_and_shares_a_project_with_it(tenant_a, owner_a, member_factory):
    dana = member_factory(tenant_a, Role.MEMBER)
    project = make_project(tenant_a, owner_a)
    owner, as_dana = Api(tenant_a, user=owner_a), Api(tenant_a, user=dana)
    assert as_dana.get(f"/api/v1/projects/{project.pk}/").status_code == 404

    r = owner.post("/api/v1/teams/", {"name": "Design", "description": "Pixels"})
    assert r.status_code == 201, r.content
    team = r.json()
    assert team["name"] == "Design"
    assert team["member_count"] == 0
    r = owner.post(f"/api/v1/teams/{team['id']}/members/", {"user_id": dana.pk})
    assert r.status_code == 201
    assert r.json()["email"] == dana.email
    r = owner.post(f"/api/v1/projects/{project.pk}/team-permissions/", {"team_id": team["id"], "permissions": ["view"]})
    assert r.status_code == 200, r.content
    assert r.json() == [{"team_id": team["id"], "name": "Design", "permissions": ["view"]}]

    assert as_dana.get(f"/api/v1/projects/{project.pk}/").status_code == 200
    assert [p["id"] for p in as_dana.get("/api/v1/projects/").json()["results"]] == [project.pk]
    assert as_dana.get(f"/api/v1/teams/{team['id']}/").json()["member_count"] == 1
    members = as_dana.get(f"/api/v1/teams/{team['id']}/members/").json()["results"]
    assert [m["user_id"] for m in members] == [dana.pk]
    # The direct sharing list is unchanged: team grants are listed on their own endpoint.
    assert owner.get(f"/api/v1/projects/{project.pk}/permissions/").json() == [
        {"user_id": owner_a.pk, "email": owner_a.email, "permissions": ["change", "delete", "manage", "view"]}
    ]
    with schema_context(tenant_a.schema_name):
        actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions[-3:] == ["team.created", "team.member_added", "project.team_permissions_granted"]


def test_effective_permissions_are_the_union_of_own_and_team_grants(tenant_a, owner_a, member_factory):
    dana = member_factory(tenant_a, Role.MEMBER)
    project = make_project(tenant_a, owner_a)
    grant(tenant_a, project, dana, "view")
    api = Api(tenant_a, user=dana)
    assert api.patch(f"/api/v1/projects/{project.pk}/", {"name": "Mine"}).status_code == 403
    team = make_team(tenant_a, "Editors", dana)
    grant_team(tenant_a, project, team, "change")
    r = api.patch(f"/api/v1/projects/{project.pk}/", {"name": "Ours"})
    assert r.status_code == 200
    assert r.json()["name"] == "Ours"
    assert api.post(f"/api/v1/projects/{project.pk}/tasks/", {"title": "Via team"}).status_code == 201
    # Not granted by either: still refused, and nothing changed.
    before = snapshot(tenant_a)
    assert api.delete(f"/api/v1/projects/{project.pk}/").status_code == 403
    assert snapshot(tenant_a) == before


def test_leaving_a_team_ends_its_grants_on_the_next_request(tenant_a, owner_a, member_factory):
    dana = member_factory(tenant_a, Role.MEMBER)
    project = make_project(tenant_a, owner_a)
    team = make_team(tenant_a, "Core", dana)
    grant_team(tenant_a, project, team, "view")
    api = Api(tenant_a, user=dana)
    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 200
    r = Api(tenant_a, user=owner_a).delete(f"/api/v1/teams/{team.pk}/members/{dana.pk}/")
    assert r.status_code == 204
    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 404
    assert api.get("/api/v1/projects/").json()["count"] == 0
    assert Api(tenant_a, user=owner_a).delete(f"/api/v1/teams/{team.pk}/members/{dana.pk}/").status_code == 404


def test_deleting_a_team_takes_its_grants_with_it(tenant_a, owner_a, member_factory):
    dana = member_factory(tenant_a, Role.MEMBER)
    project = make_project(tenant_a, owner_a)
    team = make_team(tenant_a, "Core", dana)
    grant_team(tenant_a, project, team, "view")
    assert Api(tenant_a, user=owner_a).delete(f"/api/v1/teams/{team.pk}/").status_code == 204
    assert Api(tenant_a, user=dana).get(f"/api/v1/projects/{project.pk}/").status_code == 404
    with schema_context(tenant_a.schema_name):
        assert not ProjectGroupObjectPermission.objects.exists()
        assert not Team.objects.exists()
        assert not TeamMember.objects.exists()


def test_removal_from_the_organization_empties_team_places_whatever_the_path(tenant_a, owner_a, member_factory):
    """Through the API, and through the accounts service the operator admin uses: re-joining later does
    not bring the old team grants back."""
    dana = member_factory(tenant_a, Role.MEMBER)
    erin = member_factory(tenant_a, Role.MEMBER)
    project = make_project(tenant_a, owner_a)
    team = make_team(tenant_a, "Core", dana, erin)
    grant_team(tenant_a, project, team, "view")

    assert Api(tenant_a, user=owner_a).delete(f"/api/v1/members/{dana.pk}/").status_code == 204
    membership_remove(membership=Membership.objects.get(tenant=tenant_a, user=erin))  # public schema path
    with schema_context(tenant_a.schema_name):
        assert not TeamMember.objects.exists()
    for user in (dana, erin):
        membership_add(user=user, tenant_id=tenant_a.pk, role=Role.MEMBER)
        assert Api(tenant_a, user=user).get(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_team_rules_and_bad_input(tenant_a, tenant_b, owner_a, member_factory):
    admin = Api(tenant_a, user=member_factory(tenant_a, Role.ADMIN))
    member = Api(tenant_a, user=member_factory(tenant_a, Role.MEMBER))
    billing_user = member_factory(tenant_a, Role.BILLING)
    outsider = member_factory(tenant_b, Role.MEMBER)
    team = admin.post("/api/v1/teams/", {"name": "Ops"}).json()

    r = admin.post("/api/v1/teams/", {"name": "ops"})
    assert r.status_code == 400
    assert r.json()["error"]["fields"]["name"]
    assert admin.post("/api/v1/teams/", {"name": "   "}).status_code == 400
    before = snapshot(tenant_a)
    r = member.post("/api/v1/teams/", {"name": "Mine"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "permission_denied"
    r = admin.post(f"/api/v1/teams/{team['id']}/members/", {"user_id": billing_user.pk})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_team_member"
    r = admin.post(f"/api/v1/teams/{team['id']}/members/", {"user_id": outsider.pk})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "not_a_member"
    r = admin.post(f"/api/v1/teams/{team['id']}/members/", {"user_id": "x"})
    assert r.status_code == 400
    assert Api(tenant_a, user=billing_user).get("/api/v1/teams/").status_code == 404
    assert snapshot(tenant_a) == before
    # Another organization's team is not there.
    assert Api(tenant_b, user=outsider).get(f"/api/v1/teams/{team['id']}/").status_code == 404
    project = make_project(tenant_a, owner_a)
    r = admin.post(f"/api/v1/projects/{project.pk}/team-permissions/", {"team_id": 999999, "permissions": ["view"]})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "not_a_team"


def test_a_member_made_billing_leaves_their_teams(tenant_a, owner_a, member_factory):
    dana = member_factory(tenant_a, Role.MEMBER)
    make_team(tenant_a, "Core", dana)
    r = Api(tenant_a, user=owner_a).patch(f"/api/v1/members/{dana.pk}/", {"role": "billing"})
    assert r.status_code == 200
    with schema_context(tenant_a.schema_name):
        assert not TeamMember.objects.filter(user_id=dana.pk).exists()


def test_team_rename_with_if_match(tenant_a, owner_a):
    api = Api(tenant_a, user=owner_a)
    team = api.post("/api/v1/teams/", {"name": "Core"}).json()
    etag = api.get(f"/api/v1/teams/{team['id']}/")["ETag"]
    stale = api.patch(f"/api/v1/teams/{team['id']}/", {"name": "Kernel"}, HTTP_IF_MATCH='"stale"')
    assert stale.status_code == 412
    r = api.patch(f"/api/v1/teams/{team['id']}/", {"name": "Kernel"}, HTTP_IF_MATCH=etag)
    assert r.status_code == 200
    assert r.json()["name"] == "Kernel"
