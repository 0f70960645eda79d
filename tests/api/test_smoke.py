"""End-to-end happy path: token, project, share, list as the other member."""

import pytest

from shared_apps.accounts.models import Role
from tests.factories import TEST_PASSWORD
from tests.support.api import Api, audit_count

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("owner_a")
def test_token_project_share_and_list(tenant_a, member_factory):
    anon = Api(tenant_a)
    r = anon.post("/api/v1/auth/token/", {"email": "owner@alpha.test", "password": TEST_PASSWORD, "name": "cli"})
    assert r.status_code == 201, r.content
    token = r.json()["token"]
    assert token.startswith("tnt_")
    owner = Api(tenant_a, token=token)
    r = owner.post("/api/v1/projects/", {"name": "Apollo", "description": "Moon"})
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    bob = member_factory(tenant_a, Role.MEMBER)
    r = owner.post(f"/api/v1/projects/{pid}/permissions/", {"user_id": bob.pk, "permissions": ["view"]})
    assert r.status_code == 200, r.content
    as_bob = Api(tenant_a, user=bob)
    r = as_bob.get("/api/v1/projects/")
    assert r.status_code == 200, r.content
    assert [p["id"] for p in r.json()["results"]] == [pid]
    r = as_bob.get("/api/v1/me/")
    assert r.status_code == 200, r.content
    assert r.json()["membership"]["role"] == "member", r.content
    assert audit_count(tenant_a) >= 3
    assert "X-Request-ID" in r
