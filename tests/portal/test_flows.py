"""Portal behaviour through the Django test client: signing in and out, hand-off between hosts,
signup, invitations, tokens, settings, audit filters, CSRF, suspended organizations."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Membership, Role, User
from shared_apps.accounts.services import handoff_token_issue
from tenant_apps.audit.models import AuditEvent
from tenant_apps.invitations.models import Invitation, InvitationStatus
from tenant_apps.invitations.services import invitation_create
from tenant_apps.portal.access import SESSION_TENANT_KEY
from tenant_apps.tokens.models import ApiToken
from tenants.base.actor import Actor
from tenants.models import Tenant, TenantStatus
from tests.factories import TEST_PASSWORD
from tests.support.api import snapshot
from tests.support.clients import host_of, portal_client, public_client

pytestmark = pytest.mark.django_db


def _handoff_token(location: str) -> str:
    return parse_qs(urlparse(location).query)["token"][0]


# --- Sign in and out --------------------------------------------------------------------------------


@pytest.mark.usefixtures("owner_a")
def test_sign_in_binds_the_session_to_this_organization(tenant_a: Tenant) -> None:
    client = portal_client(tenant_a)
    response = client.post("/login/", {"email": "owner@alpha.test", "password": TEST_PASSWORD, "next": "/members/"})
    assert response.status_code == 302
    assert response["Location"] == "/members/"
    assert client.session[SESSION_TENANT_KEY] == tenant_a.pk
    page = client.get("/")
    assert page.status_code == 200
    assert b"Alpha" in page.content
    assert b"Signed in." in page.content


@pytest.mark.usefixtures("owner_a")
def test_wrong_password_shows_an_error_and_signs_nobody_in(tenant_a: Tenant) -> None:
    client = portal_client(tenant_a)
    response = client.post("/login/", {"email": "owner@alpha.test", "password": "wrong-password"})
    assert response.status_code == 400
    assert b"Email or password is incorrect." in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.usefixtures("owner_a")
def test_sign_in_is_throttled_after_repeated_failures(tenant_a: Tenant, settings: Any) -> None:
    settings.LOGIN_LOCKOUT_ACCOUNT_FAILURES = 3
    client = portal_client(tenant_a)
    for _ in range(3):
        client.post("/login/", {"email": "owner@alpha.test", "password": "wrong-password"})
    response = client.post("/login/", {"email": "owner@alpha.test", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many failed sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.usefixtures("tenant_b")
def test_a_person_from_another_organization_cannot_sign_in_here(tenant_a: Tenant) -> None:
    # The same answer as a wrong password: this host does not tell whether the password was right.
    client = portal_client(tenant_a)
    response = client.post("/login/", {"email": "owner@beta.test", "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert b"Email or password is incorrect." in response.content
    assert b"not a member" not in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.usefixtures("owner_a")
def test_open_redirects_after_sign_in_are_refused(tenant_a: Tenant) -> None:
    client = portal_client(tenant_a)
    response = client.post(
        "/login/", {"email": "owner@alpha.test", "password": TEST_PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_session_bound_to_another_organization_is_not_accepted(
    tenant_a: Tenant, tenant_b: Tenant, member_factory
) -> None:
    both = member_factory(tenant_a, Role.ADMIN)
    Membership.objects.create(user=both, tenant=tenant_b, role=Role.ADMIN)
    client = portal_client(tenant_a, both)
    client.defaults["HTTP_HOST"] = host_of(tenant_b)  # the alpha session replayed on beta's host
    response = client.get("/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_sign_out_needs_a_post_and_ends_the_session(tenant_a: Tenant, owner_a: User) -> None:
    client = portal_client(tenant_a, owner_a)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_csrf_is_enforced_on_portal_forms(tenant_a: Tenant, owner_a: User) -> None:
    client = portal_client(tenant_a, owner_a, enforce_csrf_checks=True)
    before = snapshot(tenant_a)
    response = client.post("/members/invite/", {"email": "x@example.test", "role": "member"})
    assert response.status_code == 403
    assert snapshot(tenant_a) == before


# --- Hand-off and switching -------------------------------------------------------------------------


def test_handoff_token_signs_in_once(tenant_a: Tenant, owner_a: User) -> None:
    token = handoff_token_issue(user=owner_a, tenant_id=tenant_a.pk)
    first = portal_client(tenant_a)
    assert first.get(f"/handoff/?token={token}")["Location"] == "/"
    assert first.get("/").status_code == 200
    replay = portal_client(tenant_a)
    assert replay.get(f"/handoff/?token={token}")["Location"] == "/login/"
    assert "_auth_user_id" not in replay.session


@pytest.mark.parametrize("token", ["", "garbage", "eyJ1IjoxfQ:forged:signature"])
def test_forged_handoff_tokens_are_refused(tenant_a: Tenant, token: str) -> None:
    client = portal_client(tenant_a)
    assert client.get("/handoff/", {"token": token})["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_handoff_token_for_one_organization_does_not_open_another(
    tenant_a: Tenant, tenant_b: Tenant, owner_a: User
) -> None:
    token = handoff_token_issue(user=owner_a, tenant_id=tenant_a.pk)
    client = portal_client(tenant_b)
    assert client.get(f"/handoff/?token={token}")["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_switching_organization_hands_over_to_the_other_host(
    tenant_a: Tenant, tenant_b: Tenant, member_factory
) -> None:
    both = member_factory(tenant_a, Role.MEMBER)
    Membership.objects.create(user=both, tenant=tenant_b, role=Role.MEMBER)
    client = portal_client(tenant_a, both)
    assert b"/switch/beta/" in client.get("/").content
    response = client.get("/switch/beta/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"http://{host_of(tenant_b)}/handoff/?token=")
    other = portal_client(tenant_b)
    assert (
        other.get(urlparse(response["Location"]).path + "?" + urlparse(response["Location"]).query).status_code == 302
    )
    assert other.get("/").status_code == 200


def test_switching_to_an_organization_you_are_not_in_is_a_404(tenant_a: Tenant, owner_a: User) -> None:
    assert portal_client(tenant_a, owner_a).get("/switch/beta/").status_code == 404
    assert portal_client(tenant_a, owner_a).get("/switch/no-such-org/").status_code == 404


# --- Public host: signup and sign-in ----------------------------------------------------------------

SIGNUP = {"name": "Gamma Inc", "slug": "gamma", "email": "founder@gamma.test", "password": "a-long-enough-pass"}


def _confirm_link(outbox: list, email: str) -> str:
    [message] = [m for m in outbox if m.to == [email]]
    match = re.search(r"http://localhost(/signup/confirm/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_signup_provisions_the_organization_and_hands_the_owner_over(
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = public_client()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post("/signup/", SIGNUP)
    # Nothing exists until the address is confirmed.
    assert sent.status_code == 200, sent.content[:500]
    assert b"Check your inbox" in sent.content, sent.content[:500]
    assert not Tenant.objects.filter(slug="gamma").exists()
    assert not User.objects.filter(email="founder@gamma.test").exists()
    link = _confirm_link(mail.outbox, "founder@gamma.test")
    page = client.get(link)
    assert page.status_code == 200
    assert b"Create Gamma Inc" in page.content
    assert not Tenant.objects.filter(slug="gamma").exists()  # a GET (mail scanners) creates nothing
    response = client.post(link)
    assert response.status_code == 302, response.content[:500]
    tenant = Tenant.objects.get(slug="gamma")
    assert response["Location"].startswith("http://gamma.localhost/handoff/?token=")
    owner = User.objects.get(email="founder@gamma.test")
    assert Membership.objects.get(tenant=tenant, user=owner).role == Role.OWNER
    portal = portal_client(tenant)
    assert portal.get("/handoff/", {"token": _handoff_token(response["Location"])})["Location"] == "/"
    dashboard = portal.get("/")
    assert dashboard.status_code == 200
    assert b"Gamma Inc" in dashboard.content
    # The link works once; the password chosen at signup is the account's password.
    assert client.post(link).status_code == 404
    assert (
        public_client().post("/signin/", {"email": "founder@gamma.test", "password": SIGNUP["password"]})["Location"]
        == "/organizations/"
    )


@pytest.mark.usefixtures("tenant_a")
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"slug": "alpha"}, "slug", b"already taken"),
        ({"slug": "alpha", "password": "short"}, "slug", b"already taken"),  # shown with the other errors
        ({"slug": "Not A Slug!"}, "slug", b"slug"),
        ({"slug": "admin"}, "slug", b"reserved"),
        ({"password": "short"}, "password", b"too short"),
        ({"email": "not-an-email"}, "email", b"valid email"),
        ({"name": ""}, "name", b"required"),
    ],
)
def test_signup_errors_are_shown_next_to_their_field(change: dict, field: str, message: bytes) -> None:
    tenants_before = Tenant.objects.count()
    response = public_client().post("/signup/", {**SIGNUP, **change})
    assert response.status_code == 400
    assert f'id="id_{field}_error"'.encode() in response.content
    assert message in response.content
    assert Tenant.objects.count() == tenants_before


@pytest.mark.usefixtures("tenant_a")
def test_signup_with_an_existing_email_needs_that_accounts_password(
    owner_a: User, django_capture_on_commit_callbacks: Any
) -> None:
    tenants_before = Tenant.objects.count()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = public_client().post(
            "/signup/", {**SIGNUP, "email": "owner@alpha.test", "password": "guess-guess-1"}
        )
    # The same answer as for an email without an account; the account's owner gets a message instead.
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    assert b"An account with this email exists" not in response.content
    assert Tenant.objects.count() == tenants_before
    [notice] = mail.outbox
    assert notice.to == ["owner@alpha.test"]
    assert "already has a Tenantry account" in notice.body
    ok = public_client().post("/signup/", {**SIGNUP, "email": "owner@alpha.test", "password": TEST_PASSWORD})
    assert ok.status_code == 302
    assert Membership.objects.get(tenant__slug="gamma", user=owner_a).role == Role.OWNER


@pytest.mark.usefixtures("tenant_a", "tenant_b", "owner_a")
def test_public_sign_in_lists_your_organizations_and_opens_one() -> None:
    client = public_client()
    assert (
        client.post("/signin/", {"email": "owner@alpha.test", "password": TEST_PASSWORD})["Location"]
        == "/organizations/"
    )
    page = client.get("/organizations/")
    assert b"Alpha" in page.content
    assert b"Beta" not in page.content
    response = client.post("/organizations/alpha/enter/")
    assert response["Location"].startswith("http://alpha.localhost/handoff/?token=")
    assert client.post("/organizations/beta/enter/").status_code == 404


@pytest.mark.usefixtures("owner_a")
def test_public_sign_in_with_a_wrong_password_finds_nothing() -> None:
    client = public_client()
    response = client.post("/signin/", {"email": "owner@alpha.test", "password": "nope-nope-nope"})
    assert response.status_code == 400
    assert b"incorrect" in response.content
    assert client.get("/organizations/")["Location"] == "/signin/"


def test_landing_page_renders_on_the_public_host() -> None:
    response = public_client().get("/")
    assert response.status_code == 200
    assert b"Create an organization" in response.content


# --- Members and invitations ------------------------------------------------------------------------


def test_invite_sends_an_email_with_an_accept_link_and_shows_a_message(
    tenant_a: Tenant, owner_a: User, django_capture_on_commit_callbacks
) -> None:
    client = portal_client(tenant_a, owner_a)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/members/invite/", {"email": "Newbie@Example.test", "role": "admin"}, follow=True)
    assert b"Invitation sent to newbie@example.test." in response.content
    with schema_context(tenant_a.schema_name):
        assert Invitation.objects.get(email="newbie@example.test").role == Role.ADMIN
    assert [m.to for m in mail.outbox] == [["newbie@example.test"]]
    link = re.search(r"http://alpha\.localhost(/invitations/accept/[^/\s]+/)", mail.outbox[0].body)
    assert link is not None
    # The page never shows the link (a bearer secret); the invitee's email does.
    assert link.group(1).encode() not in response.content
    page = portal_client(tenant_a).get(link.group(1))
    assert page.status_code == 200
    assert b"newbie@example.test" in page.content


def test_invite_errors_are_shown_next_to_the_form(tenant_a: Tenant, owner_a: User) -> None:
    client = portal_client(tenant_a, owner_a)
    response = client.post("/members/invite/", {"email": "owner@alpha.test", "role": "member"})
    assert response.status_code == 400
    assert b"already a member" in response.content
    response = client.post("/members/invite/", {"email": "nobody", "role": "emperor"})
    assert response.status_code == 400
    assert b'id="id_email_error"' in response.content
    assert b'id="id_role_error"' in response.content


def test_the_last_owner_cannot_be_demoted_or_removed(tenant_a: Tenant, owner_a: User) -> None:
    client = portal_client(tenant_a, owner_a)
    before = snapshot(tenant_a)
    page = client.post(f"/members/{owner_a.pk}/role/", {"role": "member"}, follow=True)
    assert b"at least one owner" in page.content
    page = client.post(f"/members/{owner_a.pk}/remove/", follow=True)
    assert b"at least one owner" in page.content
    assert snapshot(tenant_a) == before


def test_an_admin_cannot_make_or_unmake_owners(tenant_a: Tenant, owner_a: User, member_factory) -> None:
    admin = member_factory(tenant_a, Role.ADMIN)
    plain = member_factory(tenant_a, Role.MEMBER)
    client = portal_client(tenant_a, admin)
    before = snapshot(tenant_a)
    assert b"Only an owner" in client.post(f"/members/{plain.pk}/role/", {"role": "owner"}, follow=True).content
    assert b"Only an owner" in client.post(f"/members/{owner_a.pk}/remove/", follow=True).content
    assert snapshot(tenant_a) == before


@pytest.mark.usefixtures("tenant_b")
def test_unknown_member_or_invitation_ids_are_404(tenant_a: Tenant, owner_a: User) -> None:
    client = portal_client(tenant_a, owner_a)
    beta_owner = User.objects.get(email="owner@beta.test")
    assert client.post(f"/members/{beta_owner.pk}/remove/").status_code == 404
    assert client.post("/members/999999999999/role/", {"role": "member"}).status_code == 404
    assert client.post("/invitations/999999999999/revoke/").status_code == 404
    assert client.get("/projects/999999999999999999/").status_code == 404
    assert client.get("/projects/9999999999999999999999/").status_code == 404


def _invite(tenant: Tenant, owner: User, email: str, role: str = Role.MEMBER) -> str:
    with schema_context(tenant.schema_name):
        _, raw = invitation_create(
            actor=Actor(user=owner), actor_role=Role.OWNER, tenant=tenant, email=email, role=role
        )
    return raw


def test_a_new_person_accepts_an_invitation_and_lands_in_the_portal(tenant_a: Tenant, owner_a: User) -> None:
    raw = _invite(tenant_a, owner_a, "fresh@example.test")
    client = portal_client(tenant_a)
    page = client.get(f"/invitations/accept/{raw}/")
    assert page.status_code == 200
    assert b"choose a password" in page.content
    mismatch = client.post(
        f"/invitations/accept/{raw}/", {"full_name": "Fresh", "password": "a-long-enough-pass", "password_confirm": "x"}
    )
    assert mismatch.status_code == 400
    assert b"The two passwords differ." in mismatch.content
    assert not User.objects.filter(email="fresh@example.test").exists()
    response = client.post(
        f"/invitations/accept/{raw}/",
        {"full_name": "Fresh", "password": "a-long-enough-pass", "password_confirm": "a-long-enough-pass"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(email="fresh@example.test")
    assert Membership.objects.get(tenant=tenant_a, user=user).role == Role.MEMBER
    assert client.get("/").status_code == 200
    assert client.get(f"/invitations/accept/{raw}/").status_code == 404  # used up


@pytest.mark.usefixtures("tenant_b")
def test_an_existing_user_confirms_their_password_to_accept(tenant_a: Tenant, owner_a: User) -> None:
    raw = _invite(tenant_a, owner_a, "owner@beta.test", Role.ADMIN)
    client = portal_client(tenant_a)
    page = client.get(f"/invitations/accept/{raw}/")
    assert b"If you already have a Tenantry account with this email, enter its password" in page.content
    wrong = client.post(
        f"/invitations/accept/{raw}/", {"password": "not-my-password", "password_confirm": "not-my-password"}
    )
    assert wrong.status_code == 400
    assert not Membership.objects.filter(tenant=tenant_a, user__email="owner@beta.test").exists()
    ok = client.post(f"/invitations/accept/{raw}/", {"password": TEST_PASSWORD, "password_confirm": TEST_PASSWORD})
    assert ok.status_code == 302
    assert Membership.objects.get(tenant=tenant_a, user__email="owner@beta.test").role == Role.ADMIN


def test_resend_rotates_the_link_and_revoke_ends_it(tenant_a: Tenant, owner_a: User) -> None:
    raw = _invite(tenant_a, owner_a, "later@example.test")
    with schema_context(tenant_a.schema_name):
        invitation = Invitation.objects.get(email="later@example.test")
    client = portal_client(tenant_a, owner_a)
    page = client.post(f"/invitations/{invitation.pk}/resend/", follow=True)
    assert b"previous link no longer works" in page.content
    assert portal_client(tenant_a).get(f"/invitations/accept/{raw}/").status_code == 404
    client.post(f"/invitations/{invitation.pk}/revoke/")
    with schema_context(tenant_a.schema_name):
        assert Invitation.objects.get(pk=invitation.pk).status == InvitationStatus.REVOKED


def test_a_garbage_invitation_link_is_a_404_page(tenant_a: Tenant) -> None:
    response = portal_client(tenant_a).get("/invitations/accept/not-a-token/")
    assert response.status_code == 404
    assert b"not valid" in response.content


# --- Tokens, settings, audit ------------------------------------------------------------------------


def test_a_token_is_shown_once_and_works_until_revoked(tenant_a: Tenant, owner_a: User) -> None:
    client = portal_client(tenant_a, owner_a)
    created = client.post("/tokens/", {"name": "deploy", "expires_in_days": "30"})
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    secret = re.search(rb'data-testid="new-token">([^<]+)<', created.content).group(1).decode()
    api = Client(HTTP_HOST=host_of(tenant_a), HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/me/").status_code == 200
    listing = client.get("/tokens/")
    assert secret.encode() not in listing.content
    assert b"deploy" in listing.content
    with schema_context(tenant_a.schema_name):
        token = ApiToken.objects.get(name="deploy")
    client.post(f"/tokens/{token.pk}/revoke/")
    assert api.get("/api/v1/me/").status_code == 401


def test_rename_changes_the_name_and_records_an_audit_event(tenant_a: Tenant, owner_a: User) -> None:
    client = portal_client(tenant_a, owner_a)
    assert client.post("/settings/", {"name": ""}).status_code == 400
    response = client.post("/settings/", {"name": "Alpha Labs"}, follow=True)
    assert b"Organization settings saved." in response.content
    assert b"Alpha Labs" in response.content
    assert Tenant.objects.get(pk=tenant_a.pk).name == "Alpha Labs"
    with schema_context(tenant_a.schema_name):
        assert AuditEvent.objects.filter(action="organization.renamed").exists()
    assert b"alpha.localhost" in client.get("/settings/").content


def test_audit_log_filters_by_actor_and_action(tenant_a: Tenant, owner_a: User, member_factory) -> None:
    admin = member_factory(tenant_a, Role.ADMIN)
    _invite(tenant_a, owner_a, "one@example.test")
    with schema_context(tenant_a.schema_name):
        from tenant_apps.tokens.services import api_token_create

        api_token_create(actor=Actor(user=admin), user=admin, name="x")
    client = portal_client(tenant_a, owner_a)
    by_action = client.get("/audit/", {"action": "invitation."})
    assert b"invitation.created" in by_action.content
    assert b"token.created" not in by_action.content
    by_actor = client.get("/audit/", {"actor": admin.email})
    assert admin.email.encode() in by_actor.content
    assert b"invitation.created" not in by_actor.content
    bad = client.get("/audit/", {"since": "not-a-date"})
    assert bad.status_code == 400
    assert b"Enter a valid date." in bad.content


# --- Billing page and banners ----------------------------------------------------------------------


def test_billing_page_shows_plan_seats_and_no_invoices(tenant_a: Tenant, owner_a: User) -> None:
    page = portal_client(tenant_a, owner_a).get("/billing/?checkout=cancel")
    assert page.status_code == 200
    assert b'data-testid="billing-plan">Test<' in page.content
    assert b"Checkout cancelled" in page.content
    assert b"No invoices yet." in page.content


@pytest.mark.parametrize(
    ("status", "banner"), [(TenantStatus.PAST_DUE, b"past_due"), (TenantStatus.SUSPENDED, b"read_only")]
)
def test_billing_trouble_shows_a_banner(tenant_a: Tenant, owner_a: User, status: str, banner: bytes) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(status=status)
    page = portal_client(tenant_a, owner_a).get("/")
    assert b'data-banner="' + banner + b'"' in page.content


@pytest.mark.usefixtures("owner_a")
def test_a_suspended_organization_can_sign_in_but_not_write(tenant_a: Tenant) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(status=TenantStatus.SUSPENDED)
    client = portal_client(tenant_a)
    assert client.post("/login/", {"email": "owner@alpha.test", "password": TEST_PASSWORD}).status_code == 302
    before = snapshot(tenant_a)
    response = client.post("/members/invite/", {"email": "x@example.test", "role": "member"})
    assert response.status_code == 402
    assert snapshot(tenant_a) == before


# --- Password reset ---------------------------------------------------------------------------------


def test_password_reset_mails_a_link_on_this_host_that_sets_a_new_password(tenant_a: Tenant, owner_a: User) -> None:
    client = portal_client(tenant_a)
    mail.outbox.clear()
    assert client.post("/password-reset/", {"email": "owner@alpha.test"})["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 1
    link = re.search(r"http://alpha\.localhost(/password-reset/[^\s]+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert b"Choose a new password" in form.content
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else link
    done = client.post(set_url, {"new_password1": "brand-new-password-1", "new_password2": "brand-new-password-1"})
    assert done["Location"] == "/password-reset/done/"
    owner_a.refresh_from_db()
    assert owner_a.check_password("brand-new-password-1")


def test_password_reset_for_an_unknown_email_says_the_same_and_sends_nothing(tenant_a: Tenant) -> None:
    mail.outbox.clear()
    response = portal_client(tenant_a).post("/password-reset/", {"email": "ghost@example.test"})
    assert response["Location"] == "/password-reset/sent/"
    assert mail.outbox == []


def test_billing_page_lists_invoices_with_links_and_a_notice_for_a_failed_payment(
    tenant_a: Tenant, owner_a: User
) -> None:
    from billing.models import BillingCustomer, Invoice

    customer = BillingCustomer.objects.create(tenant=tenant_a, stripe_customer_id="cus_portal_test")
    common = {"tenant": tenant_a, "customer": customer, "currency": "usd", "total": 3600}
    Invoice.objects.create(
        **common,
        stripe_invoice_id="in_paid",
        number="ALPHA-0001",
        status="paid",
        hosted_invoice_url="https://invoice.example/in_paid",
        invoice_pdf="https://invoice.example/in_paid.pdf",
    )
    Invoice.objects.create(
        **common,
        stripe_invoice_id="in_open",
        number="ALPHA-0002",
        status="open",
        attempt_count=1,
        hosted_invoice_url="https://invoice.example/in_open",
    )
    page = portal_client(tenant_a, owner_a).get("/billing/").content
    assert b"ALPHA-0001" in page
    assert b"36.00 USD" in page
    assert b'href="https://invoice.example/in_paid.pdf"' in page
    assert b'data-notice="payment_failed"' in page
    assert b"ALPHA-0002" in page


@pytest.mark.usefixtures("owner_a")
def test_password_reset_is_offered_on_the_public_host_too() -> None:
    client = public_client()
    page = client.get("/password-reset/")
    assert page.status_code == 200
    assert b"Reset your password" in page.content
    assert b"/signup/" in page.content
    mail.outbox.clear()
    assert client.post("/password-reset/", {"email": "owner@alpha.test"})["Location"] == "/password-reset/sent/"
    assert "http://localhost/password-reset/" in mail.outbox[0].body
