"""Invitations (issue 10, points 7 and 8): an organization cannot add an existing account without that
account's own sign-in, never sees its details before it joins, and accepting or signing up answers the
same way whether or not the email has an account."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Membership, Role, User
from tenant_apps.invitations.services import invitation_create
from tenants.base.actor import Actor
from tenants.models import Tenant
from tests.factories import TEST_PASSWORD
from tests.support.api import Api, snapshot
from tests.support.clients import portal_client, public_client

pytestmark = pytest.mark.django_db


def _invite(tenant: Tenant, owner: User, email: str, role: str = Role.MEMBER) -> str:
    """The token as only the invited address receives it (by mail)."""
    with schema_context(tenant.schema_name):
        _, raw = invitation_create(
            actor=Actor(user=owner), actor_role=Role.OWNER, tenant=tenant, email=email, role=role
        )
    return raw


def _without_secrets(content: bytes, *secrets: str) -> bytes:
    content = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)
    for secret in secrets:
        content = content.replace(secret.encode(), b"")
    return content


# --- Point 7: consent --------------------------------------------------------------------------------


@pytest.mark.usefixtures("tenant_b")
def test_the_inviter_never_receives_the_invitation_token(
    tenant_a: Tenant, owner_a: User, django_capture_on_commit_callbacks: Any
) -> None:
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(tenant_a, user=owner_a).post("/api/v1/invitations/", {"email": "owner@beta.test"})
    assert response.status_code == 201
    body = response.json()
    assert "token" not in body
    assert "inv_" not in response.content.decode()
    assert set(body) == {"id", "email", "role", "status", "invited_by_id", "created_at", "expires_at", "accepted_at"}
    # It went to the invited address only.
    [message] = mail.outbox
    assert message.to == ["owner@beta.test"]
    assert "inv_" in message.body


@pytest.mark.usefixtures("tenant_b")
def test_an_existing_account_is_not_added_without_its_own_password(tenant_a: Tenant, owner_a: User) -> None:
    # Even holding the token (here: an inviter who somehow got it), no password or a wrong one adds nobody.
    raw = _invite(tenant_a, owner_a, "owner@beta.test", Role.ADMIN)
    anon = Api(tenant_a)
    before = snapshot(tenant_a)
    no_password = anon.post("/api/v1/invitations/accept/", {"token": raw})
    assert no_password.status_code == 400
    assert "password" in no_password.json()["error"]["fields"]
    wrong = anon.post("/api/v1/invitations/accept/", {"token": raw, "password": "a-guessed-password"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert snapshot(tenant_a) == before
    assert not Membership.objects.filter(tenant=tenant_a, user__email="owner@beta.test").exists()
    # With its own password, the account joins.
    ok = anon.post("/api/v1/invitations/accept/", {"token": raw, "password": TEST_PASSWORD})
    assert ok.status_code == 201
    assert ok.json()["role"] == "admin"


@pytest.mark.usefixtures("tenant_b")
def test_the_portal_accept_page_needs_the_existing_accounts_password(tenant_a: Tenant, owner_a: User) -> None:
    raw = _invite(tenant_a, owner_a, "owner@beta.test")
    client = portal_client(tenant_a)
    before = snapshot(tenant_a)
    for data in ({}, {"password": "a-guessed-password", "password_confirm": "a-guessed-password"}):
        response = client.post(f"/invitations/accept/{raw}/", data)
        assert response.status_code == 400
        assert "_auth_user_id" not in client.session
    assert snapshot(tenant_a) == before


@pytest.mark.usefixtures("tenant_b")
def test_the_inviter_sees_no_details_of_the_account_before_it_joins(tenant_a: Tenant, owner_a: User) -> None:
    beta_owner = User.objects.get(email="owner@beta.test")
    beta_owner.full_name = "Bea Secret-Surname"
    beta_owner.save()
    _invite(tenant_a, owner_a, "owner@beta.test")
    api = Api(tenant_a, user=owner_a)
    for path in ("/api/v1/invitations/", "/api/v1/members/"):
        content = api.get(path).content.decode()
        assert "Secret-Surname" not in content
        assert f'"user_id": {beta_owner.pk}' not in content
        assert f'"user_id":{beta_owner.pk}' not in content
    page = portal_client(tenant_a, owner_a).get("/members/").content.decode()
    assert "Secret-Surname" not in page
    assert f"/members/{beta_owner.pk}/" not in page


# --- Point 8: the same answers for known and unknown emails ------------------------------------------


@pytest.mark.usefixtures("tenant_b")
def test_accepting_without_a_password_answers_the_same_for_known_and_unknown_emails(
    tenant_a: Tenant, owner_a: User
) -> None:
    known = _invite(tenant_a, owner_a, "owner@beta.test")
    unknown = _invite(tenant_a, owner_a, "nobody-yet@example.test")
    anon = Api(tenant_a)
    a = anon.post("/api/v1/invitations/accept/", {"token": known})
    b = anon.post("/api/v1/invitations/accept/", {"token": unknown})
    assert a.status_code == b.status_code == 400
    assert a.json() == b.json()


@pytest.mark.usefixtures("tenant_b")
def test_the_accept_page_is_the_same_for_known_and_unknown_emails(tenant_a: Tenant, owner_a: User) -> None:
    known = _invite(tenant_a, owner_a, "owner@beta.test")
    unknown = _invite(tenant_a, owner_a, "nobody@beta.test")
    a = portal_client(tenant_a).get(f"/invitations/accept/{known}/")
    b = portal_client(tenant_a).get(f"/invitations/accept/{unknown}/")
    assert a.status_code == b.status_code == 200
    assert _without_secrets(a.content, "owner@beta.test") == _without_secrets(b.content, "nobody@beta.test")


SIGNUP = {"name": "Delta Inc", "slug": "delta", "password": "a-long-enough-pass"}


@pytest.mark.usefixtures("tenant_a", "owner_a")
@pytest.mark.parametrize("password", ["a-long-enough-pass", "short"])
def test_signup_answers_the_same_for_known_and_unknown_emails(
    password: str, django_capture_on_commit_callbacks: Any
) -> None:
    tenants_before = Tenant.objects.count()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        known = public_client().post("/signup/", {**SIGNUP, "password": password, "email": "owner@alpha.test"})
        unknown = public_client().post("/signup/", {**SIGNUP, "password": password, "email": "new@delta.test"})
    assert known.status_code == unknown.status_code == (200 if password != "short" else 400)
    assert _without_secrets(known.content, "owner@alpha.test") == _without_secrets(unknown.content, "new@delta.test")
    assert Tenant.objects.count() == tenants_before
    assert not User.objects.filter(email="new@delta.test").exists()
    if password != "short":
        # Each address got one message: how to go on (a confirmation link, or "use your account").
        assert sorted(m.to[0] for m in mail.outbox) == ["new@delta.test", "owner@alpha.test"]
