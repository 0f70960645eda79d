"""Teams in the portal (issue #18): managed on the members page by owners and admins; a project is
shared with a team from its page; leaving the team ends the access on the next request."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Role
from tenant_apps.audit.models import AuditEvent
from tenant_apps.members.models import Team, TeamMember
from tests.support.api import make_project, snapshot
from tests.support.clients import portal_client

pytestmark = pytest.mark.django_db


def test_owner_manages_a_team_and_shares_a_project_with_it(tenant_a, owner_a, member_factory):
    dana = member_factory(tenant_a, Role.MEMBER)
    project = make_project(tenant_a, owner_a, "Apollo")
    owner, as_dana = portal_client(tenant_a, owner_a), portal_client(tenant_a, dana)
    assert as_dana.get(f"/projects/{project.pk}/").status_code == 404

    assert owner.post("/teams/", {"name": "Crew"}).status_code == 302
    with schema_context(tenant_a.schema_name):
        team = Team.objects.get(name="Crew")
    assert owner.post(f"/teams/{team.pk}/members/", {"user_id": dana.pk}).status_code == 302
    page = owner.get("/members/").content.decode()
    assert 'data-team="Crew"' in page
    assert dana.email in page

    r = owner.post(f"/projects/{project.pk}/share-team/", {"team_id": team.pk, "permissions": ["view_project"]})
    assert r.status_code == 302
    assert 'data-team-grantee="Crew"' in owner.get(f"/projects/{project.pk}/").content.decode()
    assert as_dana.get(f"/projects/{project.pk}/").status_code == 200
    assert b'data-project="Apollo"' in as_dana.get("/projects/").content

    assert owner.post(f"/teams/{team.pk}/members/{dana.pk}/remove/").status_code == 302
    assert as_dana.get(f"/projects/{project.pk}/").status_code == 404
    assert owner.post(f"/teams/{team.pk}/delete/").status_code == 302
    with schema_context(tenant_a.schema_name):
        assert not Team.objects.exists()
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"team.created", "team.member_added", "team.member_removed", "team.deleted"} <= actions
    assert "project.team_permissions_granted" in actions


def test_a_plain_member_cannot_manage_teams(tenant_a, owner_a, member_factory):
    dana = member_factory(tenant_a, Role.MEMBER)
    client = portal_client(tenant_a, owner_a)
    client.post("/teams/", {"name": "Crew"})
    with schema_context(tenant_a.schema_name):
        team = Team.objects.get(name="Crew")
    before = snapshot(tenant_a)
    as_dana = portal_client(tenant_a, dana)
    for path, data in (
        ("/teams/", {"name": "Mine"}),
        (f"/teams/{team.pk}/members/", {"user_id": dana.pk}),
        (f"/teams/{team.pk}/delete/", {}),
    ):
        assert as_dana.post(path, data).status_code == 403, path
    assert snapshot(tenant_a) == before
    with schema_context(tenant_a.schema_name):
        assert not TeamMember.objects.exists()


def test_a_duplicate_team_name_is_refused_with_a_message(tenant_a, owner_a):
    client = portal_client(tenant_a, owner_a)
    client.post("/teams/", {"name": "Crew"})
    response = client.post("/teams/", {"name": "crew"}, follow=True)
    assert "A team with this name exists." in response.content.decode()
    with schema_context(tenant_a.schema_name):
        assert Team.objects.count() == 1
