"""The portal's parts of scopes and CORS: the token page creates scoped tokens and shows their scopes;
organization settings edit the allowed browser origins (admins only)."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from tenant_apps.tokens.models import ApiToken
from tenants.base.api.models import CorsOrigin
from tests.support.api import Api, snapshot
from tests.support.clients import portal_client

pytestmark = pytest.mark.django_db


def test_token_page_creates_a_read_token_and_lists_its_scopes(tenant_a: Any, owner_a: Any) -> None:
    client = portal_client(tenant_a, owner_a)
    page = client.post("/tokens/", {"name": "ci-read", "expires_in_days": "", "scope": "read"})
    assert page.status_code == 201
    secret = page.context["created_secret"]
    with schema_context(tenant_a.schema_name):
        assert ApiToken.objects.get(name="ci-read").scopes == ["read"]
    assert '<td data-label="Scopes">read</td>' in client.get("/tokens/").content.decode()
    api = Api(tenant_a, token=secret)
    assert api.get("/api/v1/projects/").status_code == 200
    denied = api.post("/api/v1/projects/", {"name": "No"})
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "insufficient_scope"


def test_token_page_refuses_an_unknown_scope(tenant_a: Any, owner_a: Any) -> None:
    before = snapshot(tenant_a)["tokens"]
    page = portal_client(tenant_a, owner_a).post("/tokens/", {"name": "x", "scope": "root"})
    assert page.status_code == 400
    assert snapshot(tenant_a)["tokens"] == before


def test_settings_page_edits_cors_origins(tenant_a: Any, owner_a: Any, member_factory: Any) -> None:
    client = portal_client(tenant_a, owner_a)
    saved = client.post(
        "/settings/", {"section": "cors", "origins": "https://App.example.com\nhttp://localhost:3000\n"}
    )
    assert saved.status_code == 302
    assert sorted(CorsOrigin.objects.filter(tenant_id=tenant_a.pk).values_list("origin", flat=True)) == [
        "http://localhost:3000",
        "https://app.example.com",
    ]
    assert "https://app.example.com" in client.get("/settings/").content.decode()
    bad = client.post("/settings/", {"section": "cors", "origins": "javascript:alert(1)"})
    assert bad.status_code == 400
    assert "is not an origin" in bad.content.decode()
    assert CorsOrigin.objects.filter(tenant_id=tenant_a.pk).count() == 2
    member = member_factory(tenant_a)
    refused = portal_client(tenant_a, member).post("/settings/", {"section": "cors", "origins": "https://x.example"})
    assert refused.status_code in (403, 404)
    assert CorsOrigin.objects.filter(tenant_id=tenant_a.pk).count() == 2
