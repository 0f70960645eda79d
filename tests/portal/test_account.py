"""Account and two-factor (issue 12): profile, password, email change, sessions, TOTP enrolment and the
second sign-in step on the portal, the public host and the API token endpoint, the organization's
"require two-factor" rule, the audit log, and who may open/post what (denied requests change nothing)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from shared_apps.accounts.models import AccountEvent, RecoveryCode, Role, TwoFactorPolicy, User, UserSession
from shared_apps.accounts.services import recovery_code_hash
from tenant_apps.audit.models import AuditEvent
from tenants.models import Tenant
from tests.factories import TEST_PASSWORD
from tests.support.api import Api, snapshot
from tests.support.clients import portal_client, public_client
from tests.two_factor_support import code_now, code_wrong, enrol, totp_for_key

pytestmark = pytest.mark.django_db

ADMIN, MEMBER, OUTSIDER, ANONYMOUS = "admin", "member", "outsider", "anonymous"
ACTORS = [ANONYMOUS, OUTSIDER, MEMBER, ADMIN]
NEW_PASSWORD = "brand-new-pass-42"


def audit_actions(tenant: Tenant) -> list[str]:
    with schema_context(tenant.schema_name):
        return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def account_state(tenant: Tenant) -> dict[str, Any]:
    """Everything an account or two-factor action could change."""
    return {
        **snapshot(tenant),
        "users": list(User.objects.order_by("pk").values("pk", "email", "full_name", "password")),
        "devices": list(TOTPDevice.objects.order_by("pk").values("pk", "user_id", "confirmed")),
        "codes": list(RecoveryCode.objects.order_by("pk").values()),
        "policies": list(TwoFactorPolicy.objects.values("tenant_id", "required")),
        "sessions": sorted(Session.objects.values_list("session_key", flat=True)),
    }


@pytest.fixture
def people(tenant_a: Tenant, tenant_b: Tenant, member_factory: Any) -> dict[str, User | None]:
    return {
        ANONYMOUS: None,
        OUTSIDER: member_factory(tenant_b, Role.ADMIN),
        MEMBER: member_factory(tenant_a, Role.MEMBER),
        ADMIN: member_factory(tenant_a, Role.ADMIN),
    }


# --- The permission matrix ----------------------------------------------------------------------------

PAGES = ["/account/", "/account/two-factor/"]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("path", PAGES)
def test_account_pages_are_for_every_member_of_this_organization(
    tenant_a: Tenant, people: dict, path: str, actor: str
) -> None:
    response = portal_client(tenant_a, people[actor]).get(path)
    if actor == ANONYMOUS:
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    elif actor == OUTSIDER:
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert b"csrfmiddlewaretoken" in response.content
        assert people[actor].email.encode() in response.content


ACTIONS: list[tuple[str, str, dict[str, str], set[str]]] = [
    ("rename myself", "/account/", {"full_name": "New Name"}, {MEMBER, ADMIN}),
    (
        "change password",
        "/account/password/",
        {
            "current_password": TEST_PASSWORD,
            "new_password": "brand-new-pass-42",
            "new_password_confirm": "brand-new-pass-42",
        },
        {MEMBER, ADMIN},
    ),
    ("start two-factor", "/account/two-factor/start/", {}, {MEMBER, ADMIN}),
    ("sign out other sessions", "/account/sessions/revoke-others/", {}, {MEMBER, ADMIN}),
    ("require two-factor", "/settings/two-factor/", {"required": "on"}, {ADMIN}),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("name", "path", "data", "allowed"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_account_actions(
    tenant_a: Tenant, people: dict, name: str, path: str, data: dict, allowed: set[str], actor: str
) -> None:
    user = people[actor]
    if user is not None and name == "require two-factor":
        enrol(user)  # an admin must have two-factor before requiring it
    if name == "sign out other sessions" and user is not None:
        portal_client(tenant_a, user).get("/account/")  # another session of the same person
    client = portal_client(tenant_a, user)
    client.get("/account/")  # this session is recorded too
    before = account_state(tenant_a)
    response = client.post(path, data)
    if actor in allowed:
        assert response.status_code == 302, response.content[:600]
        assert account_state(tenant_a) != before, f"{name} changed nothing"
        return
    assert response.status_code == {ANONYMOUS: 302, OUTSIDER: 404}.get(actor, 403), (name, actor)
    assert account_state(tenant_a) == before, f"denied {name} by {actor} changed something"


def test_a_member_cannot_sign_out_someone_elses_session(tenant_a: Tenant, people: dict) -> None:
    victim, attacker = people[ADMIN], people[MEMBER]
    portal_client(tenant_a, victim).get("/account/")
    [row] = UserSession.objects.filter(user=victim)
    client = portal_client(tenant_a, attacker)
    before = account_state(tenant_a)
    response = client.post(f"/account/sessions/{row.pk}/revoke/", follow=True)
    assert b"not one of your other sessions" in response.content
    after = account_state(tenant_a)
    assert after["sessions"] == before["sessions"]
    assert UserSession.objects.filter(pk=row.pk).exists()


# --- Enrolment, the second step, recovery codes --------------------------------------------------------


def test_enrol_with_a_qr_code_and_a_generated_code(
    tenant_a: Tenant, owner_a: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = portal_client(tenant_a, owner_a)
    assert client.post("/account/two-factor/start/").status_code == 302
    page = client.get("/account/two-factor/").content.decode()
    assert '<svg class="qr" role="img"' in page
    assert "style=" not in page.split('<svg class="qr"')[1].split("</svg>")[0]
    device = TOTPDevice.objects.get(user=owner_a, confirmed=False)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert totp_for_key(device.key).secret == secret
    # A wrong code leaves it off.
    bad = client.post("/account/two-factor/confirm/", {"code": code_wrong(owner_a)})
    assert bad.status_code == 400
    assert b"not valid" in bad.content
    assert not TOTPDevice.objects.filter(user=owner_a, confirmed=True).exists()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/account/two-factor/confirm/", {"code": code_now(owner_a)})
    assert done.status_code == 200
    assert done["Cache-Control"] == "no-store"
    codes = re.findall(r"<code>([a-z2-7]{5}-[a-z2-7]{5})</code>", done.content.decode())
    assert len(codes) == 10
    # Stored hashed only: no code's text is in the table.
    stored = list(RecoveryCode.objects.filter(user=owner_a).values_list("code_hash", flat=True))
    assert sorted(stored) == sorted(recovery_code_hash(c) for c in codes)
    assert not any(c.replace("-", "") in h for c in codes for h in stored)
    # Shown once: the page afterwards says how many are left, not what they are.
    after = client.get("/account/two-factor/").content.decode()
    assert codes[0] not in after
    assert 'data-testid="recovery-remaining">10<' in after
    assert "two_factor.enabled" in audit_actions(tenant_a)
    [message] = [m for m in mail.outbox if m.to == [owner_a.email]]
    assert "turned on" in message.body
    assert "turned on" in message.alternatives[0][0]


def _password_step(client: Any, email: str, path: str = "/login/") -> Any:
    return client.post(path, {"email": email, "password": TEST_PASSWORD})


def test_portal_sign_in_asks_for_the_code_and_refuses_a_wrong_one(tenant_a: Tenant, owner_a: User) -> None:
    codes = enrol(owner_a)
    client = portal_client(tenant_a)
    first = _password_step(client, owner_a.email)
    assert first.status_code == 302
    assert first["Location"] == "/login/two-factor/"
    assert client.get("/").status_code == 302  # not signed in yet
    failures = AccessAttempt.objects.filter(username=owner_a.email).count()
    wrong = client.post("/login/two-factor/", {"code": code_wrong(owner_a)})
    assert wrong.status_code == 400
    assert b"not valid" in wrong.content
    assert client.get("/").status_code == 302
    assert AccessAttempt.objects.filter(username=owner_a.email).count() == failures + 1  # the lockout counts it
    right = client.post("/login/two-factor/", {"code": code_now(owner_a)})
    assert right.status_code == 302
    assert client.get("/").status_code == 200
    assert audit_actions(tenant_a)[-2:] == ["auth.two_factor_failed", "auth.signed_in"]
    # A recovery code works once.
    other = portal_client(tenant_a)
    _password_step(other, owner_a.email)
    assert other.post("/login/two-factor/", {"code": codes[0].upper()}).status_code == 302
    assert other.get("/").status_code == 200
    again = portal_client(tenant_a)
    _password_step(again, owner_a.email)
    assert again.post("/login/two-factor/", {"code": codes[0]}).status_code == 400
    with schema_context(tenant_a.schema_name):
        assert AuditEvent.objects.filter(action="auth.signed_in", data__method="recovery").count() == 1


def test_the_second_step_cannot_be_skipped_or_reached_without_the_password(tenant_a: Tenant, owner_a: User) -> None:
    enrol(owner_a)
    client = portal_client(tenant_a)
    assert client.get("/login/two-factor/")["Location"] == "/login/"
    assert client.post("/login/two-factor/", {"code": code_now(owner_a)})["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_the_wrong_codes_lock_the_account_out_like_wrong_passwords(
    tenant_a: Tenant, owner_a: User, settings: Any
) -> None:
    settings.LOGIN_LOCKOUT_ACCOUNT_FAILURES = 3
    enrol(owner_a)
    client = portal_client(tenant_a)
    _password_step(client, owner_a.email)
    statuses = [client.post("/login/two-factor/", {"code": code_wrong(owner_a)}).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    right = client.post("/login/two-factor/", {"code": code_now(owner_a)})
    assert right.status_code == 429
    assert int(right["Retry-After"]) > 0
    assert client.get("/").status_code == 302


def test_public_sign_in_has_the_same_second_step(owner_a: User) -> None:
    enrol(owner_a)
    client = public_client()
    first = _password_step(client, owner_a.email, "/signin/")
    assert first["Location"] == "/signin/two-factor/"
    assert client.get("/organizations/").status_code == 302
    assert client.post("/signin/two-factor/", {"code": code_wrong(owner_a)}).status_code == 400
    ok = client.post("/signin/two-factor/", {"code": code_now(owner_a)})
    assert ok.status_code == 302
    assert ok["Location"] == "/organizations/"
    assert client.get("/organizations/").status_code == 200
    events = list(AccountEvent.objects.filter(user=owner_a).values_list("action", flat=True))
    assert events == ["auth.signed_in", "auth.two_factor_failed"]  # newest first


def test_api_token_needs_the_code_when_two_factor_is_on(tenant_a: Tenant, owner_a: User) -> None:
    codes = enrol(owner_a)
    body = {"email": owner_a.email, "password": TEST_PASSWORD}
    missing = Api(tenant_a).post("/api/v1/auth/token/", body)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "otp_required"
    before = AccessAttempt.objects.filter(username=owner_a.email).count()
    wrong = Api(tenant_a).post("/api/v1/auth/token/", {**body, "otp": code_wrong(owner_a)})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "otp_invalid"
    assert AccessAttempt.objects.filter(username=owner_a.email).count() == before + 1
    with schema_context(tenant_a.schema_name):
        from tenant_apps.tokens.models import ApiToken

        assert not ApiToken.objects.filter(user=owner_a).exists()
    ok = Api(tenant_a).post("/api/v1/auth/token/", {**body, "otp": code_now(owner_a)})
    assert ok.status_code == 201
    assert ok.json()["token"].startswith("tnt_")
    by_recovery = Api(tenant_a).post("/api/v1/auth/token/", {**body, "otp": codes[1]})
    assert by_recovery.status_code == 201


# --- The organization's rule ---------------------------------------------------------------------------


@pytest.mark.usefixtures("owner_a")
def test_required_two_factor_sends_unenrolled_members_to_the_grace_page(tenant_a: Tenant, people: dict) -> None:
    TwoFactorPolicy.objects.create(tenant=tenant_a, required=True)
    member = people[MEMBER]
    client = portal_client(tenant_a)
    signed = _password_step(client, member.email)
    assert signed.status_code == 302
    for path in ["/", "/tokens/", "/account/"]:
        assert client.get(path)["Location"] == "/account/two-factor/", path
    grace = client.get("/account/two-factor/")
    assert grace.status_code == 200
    assert b'data-banner="two_factor_required"' in grace.content
    # No token by password for an unenrolled member.
    api = Api(tenant_a).post("/api/v1/auth/token/", {"email": member.email, "password": TEST_PASSWORD})
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "two_factor_enrolment_required"
    # Enrol on the grace page: the portal opens.
    client.post("/account/two-factor/start/")
    assert client.post("/account/two-factor/confirm/", {"code": code_now(member)}).status_code == 200
    assert client.get("/").status_code == 200
    # And it cannot be turned off while the organization requires it.
    off = client.post("/account/two-factor/disable/", {"password": TEST_PASSWORD})
    assert off.status_code == 400
    assert b"cannot be turned off" in off.content
    assert TOTPDevice.objects.filter(user=member, confirmed=True).exists()


def test_an_admin_turns_the_rule_on_and_it_is_audited(tenant_a: Tenant, people: dict) -> None:
    admin = people[ADMIN]
    client = portal_client(tenant_a, admin)
    refused = client.post("/settings/two-factor/", {"required": "on"}, follow=True)
    assert b"for yourself first" in refused.content
    assert not TwoFactorPolicy.objects.filter(required=True).exists()
    enrol(admin)
    assert client.post("/settings/two-factor/", {"required": "on"}).status_code == 302
    assert TwoFactorPolicy.objects.get(tenant=tenant_a).required
    assert b'id="id_tfa_required" checked' in client.get("/settings/").content
    assert "organization.two_factor_required" in audit_actions(tenant_a)


# --- Profile ------------------------------------------------------------------------------------------


def test_changing_the_password_needs_the_current_one_and_signs_out_other_sessions(
    tenant_a: Tenant, owner_a: User
) -> None:
    other = portal_client(tenant_a, owner_a)
    assert other.get("/").status_code == 200
    client = portal_client(tenant_a, owner_a)
    client.get("/account/")
    data = {
        "current_password": "wrong-one-123",
        "new_password": "brand-new-pass-42",
        "new_password_confirm": "brand-new-pass-42",
    }
    bad = client.post("/account/password/", data)
    assert bad.status_code == 400
    assert b"current password is incorrect" in bad.content
    owner_a.refresh_from_db()
    assert owner_a.check_password(TEST_PASSWORD)
    ok = client.post("/account/password/", {**data, "current_password": TEST_PASSWORD}, follow=True)
    assert b"1 other session signed out" in ok.content
    owner_a.refresh_from_db()
    assert owner_a.check_password("brand-new-pass-42")
    assert client.get("/").status_code == 200  # this session stays
    assert other.get("/").status_code == 302  # the other one is gone
    assert "user.password_changed" in audit_actions(tenant_a)


def test_sessions_are_listed_and_the_others_signed_out(tenant_a: Tenant, owner_a: User) -> None:
    phone = portal_client(tenant_a, HTTP_USER_AGENT="PhoneBrowser/1.0")
    assert _password_step(phone, owner_a.email).status_code == 302
    client = portal_client(tenant_a, HTTP_USER_AGENT="DeskBrowser/2.0")
    assert _password_step(client, owner_a.email).status_code == 302
    page = client.get("/account/").content.decode()
    assert "PhoneBrowser/1.0" in page
    assert "DeskBrowser/2.0" in page
    assert "This session" in page
    phone_row = UserSession.objects.get(user=owner_a, user_agent="PhoneBrowser/1.0")
    assert client.post(f"/account/sessions/{phone_row.pk}/revoke/").status_code == 302
    assert phone.get("/").status_code == 302
    assert client.get("/").status_code == 200
    assert "session.revoked" in audit_actions(tenant_a)


def test_changing_the_email_is_confirmed_from_the_new_address(
    tenant_a: Tenant, owner_a: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = portal_client(tenant_a, owner_a)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/account/email/", {"email": "New.Owner@alpha.test"}).status_code == 302
    owner_a.refresh_from_db()
    assert owner_a.email == "owner@alpha.test"  # nothing changes before the link is followed
    confirm = next(m for m in mail.outbox if m.to == ["new.owner@alpha.test"])
    notice = next(m for m in mail.outbox if m.to == ["owner@alpha.test"])
    assert "new.owner@alpha.test" in notice.body
    for message in (confirm, notice):
        html, mime = message.alternatives[0]
        assert mime == "text/html"
        assert "<html" in html
        assert "<html" not in message.body
    url = re.search(r"http://[^/]+(/account/email/confirm/[^/\s]+/)", confirm.body).group(1)
    assert url in confirm.alternatives[0][0]
    assert client.get(url).status_code == 200  # a button, not the change (mail scanners follow links)
    owner_a.refresh_from_db()
    assert owner_a.email == "owner@alpha.test"
    assert client.post(url).status_code == 302
    owner_a.refresh_from_db()
    assert owner_a.email == "new.owner@alpha.test"
    assert client.post(url).status_code == 400  # used


def test_renaming_yourself(tenant_a: Tenant, owner_a: User) -> None:
    client = portal_client(tenant_a, owner_a)
    assert client.post("/account/", {"full_name": "  Ada Lovelace "}).status_code == 302
    owner_a.refresh_from_db()
    assert owner_a.full_name == "Ada Lovelace"


@pytest.mark.usefixtures("tenant_a")
def test_other_password_surfaces_do_not_skip_the_second_factor(
    tenant_b: Tenant, owner_a: User, django_capture_on_commit_callbacks: Any
) -> None:
    """Signup with an existing account and accepting an invitation also ask for (or refuse without) the code."""
    from tenant_apps.invitations.services import invitation_create
    from tenants.base.actor import Actor as AuditActor

    enrol(owner_a)
    # Signup with the right password of a two-factor account: the neutral answer, no organization.
    page = public_client().post(
        "/signup/", {"name": "Sneaky", "slug": "sneaky", "email": owner_a.email, "password": TEST_PASSWORD}
    )
    assert page.status_code == 200
    assert b"Check your inbox" in page.content
    assert not Tenant.objects.filter(slug="sneaky").exists()
    # An invitation to tenant_b for the two-factor account: the password alone is not enough.
    owner_b = User.objects.get(email="owner@beta.test")
    with schema_context(tenant_b.schema_name), django_capture_on_commit_callbacks(execute=True):
        _, raw = invitation_create(
            actor=AuditActor(user=owner_b),
            actor_role=Role.OWNER,
            tenant=tenant_b,
            email=owner_a.email,
            role=Role.MEMBER,
        )
    client = portal_client(tenant_b)
    form = {"password": TEST_PASSWORD, "password_confirm": TEST_PASSWORD}
    refused = client.post(f"/invitations/accept/{raw}/", form)
    assert refused.status_code == 400
    assert b"authenticator app" in refused.content
    assert not owner_a.memberships.filter(tenant=tenant_b).exists()
    api = Api(tenant_b).post("/api/v1/invitations/accept/", {"token": raw, "password": TEST_PASSWORD})
    assert api.status_code == 401
    assert api.json()["error"]["code"] == "otp_required"
    accepted = client.post(f"/invitations/accept/{raw}/", {**form, "otp": code_now(owner_a)})
    assert accepted.status_code == 302
    assert owner_a.memberships.filter(tenant=tenant_b).exists()


def test_a_session_is_recorded_at_sign_in_and_forgotten_at_sign_out(tenant_a: Tenant, owner_a: User) -> None:
    client = portal_client(tenant_a, HTTP_USER_AGENT="Laptop/3.0")
    _password_step(client, owner_a.email)
    [row] = UserSession.objects.filter(user=owner_a)
    assert row.user_agent == "Laptop/3.0"
    assert row.host == "alpha.localhost"
    assert client.post("/logout/").status_code == 302
    assert not UserSession.objects.filter(user=owner_a).exists()
