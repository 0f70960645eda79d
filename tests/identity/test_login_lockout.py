"""Sign-in lockout (issue 10, point 6): failures count per account across every surface and
organization and per client IP, in PostgreSQL; waits grow; every 429 carries Retry-After; no host
tells whether a password was right unless the sign-in succeeds there."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.db import connection
from django.db.models import F

from tenants.models import Tenant
from tests.factories import TEST_PASSWORD
from tests.support.api import Api, snapshot
from tests.support.clients import portal_client, public_client

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-1"


@pytest.fixture
def budget(settings: Any) -> Any:
    settings.LOGIN_LOCKOUT_ACCOUNT_FAILURES = 4
    settings.LOGIN_LOCKOUT_IP_FAILURES = 50
    settings.LOGIN_LOCKOUT_BASE_SECONDS = 60
    settings.LOGIN_LOCKOUT_MAX_SECONDS = 3600
    return settings


def api_sign_in(tenant: Tenant, email: str, password: str, ip: str = "10.0.0.1", **extra: Any) -> Any:
    return Api(tenant).post("/api/v1/auth/token/", {"email": email, "password": password}, REMOTE_ADDR=ip, **extra)


def portal_sign_in(tenant: Tenant, email: str, password: str, ip: str = "10.0.0.1", **extra: Any) -> Any:
    client = portal_client(tenant)
    response = client.post("/login/", {"email": email, "password": password}, REMOTE_ADDR=ip, **extra)
    response.signed_in = "_auth_user_id" in client.session
    return response


def public_sign_in(email: str, password: str, ip: str = "10.0.0.1", **extra: Any) -> Any:
    client = public_client()
    response = client.post("/signin/", {"email": email, "password": password}, REMOTE_ADDR=ip, **extra)
    response.signed_in = "_auth_user_id" in client.session
    return response


def page_text(response: Any) -> bytes:
    """A page without its per-client CSRF token."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", response.content)


def assert_api_locked(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "login_throttled"
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert int(response["Retry-After"]) > 0


def assert_page_locked(response: Any) -> None:
    assert response.status_code == 429, response.content[:500]
    assert int(response["Retry-After"]) > 0
    assert b"Too many failed sign-in attempts" in response.content
    assert not response.signed_in


@pytest.mark.usefixtures("budget", "owner_a")
def test_failures_against_one_account_add_up_across_every_surface_organization_and_ip(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    # An attacker spreads guesses over organizations (tenant_b stands for one they signed up themselves),
    # surfaces and addresses: the account's budget is one.
    assert api_sign_in(tenant_b, "owner@alpha.test", WRONG, ip="10.0.0.1").status_code == 401
    assert portal_sign_in(tenant_b, "owner@alpha.test", WRONG, ip="10.0.0.2").status_code == 400
    assert portal_sign_in(tenant_a, "owner@alpha.test", WRONG, ip="10.0.0.3").status_code == 400
    assert public_sign_in("owner@alpha.test", WRONG, ip="10.0.0.4").status_code == 400
    tokens_before = snapshot(tenant_a)["tokens"]
    # Now even the right password, from yet another address, is refused on every surface.
    assert_api_locked(api_sign_in(tenant_a, "OWNER@alpha.test", TEST_PASSWORD, ip="10.0.0.5"))
    assert_page_locked(portal_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD, ip="10.0.0.6"))
    assert_page_locked(public_sign_in("owner@alpha.test", TEST_PASSWORD, ip="10.0.0.7"))
    assert snapshot(tenant_a)["tokens"] == tokens_before
    # Another account is not affected.
    assert api_sign_in(tenant_b, "owner@beta.test", TEST_PASSWORD, ip="10.0.0.1").status_code == 201


@pytest.mark.usefixtures("budget", "owner_a")
def test_failures_from_one_address_are_limited_across_accounts(tenant_a: Tenant, settings: Any) -> None:
    settings.LOGIN_LOCKOUT_IP_FAILURES = 6
    for i in range(6):  # one or two guesses each against many accounts, existing or not
        assert api_sign_in(tenant_a, f"someone{i % 3}@example.test", WRONG, ip="192.0.2.9").status_code == 401
    assert_api_locked(api_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD, ip="192.0.2.9"))
    assert_page_locked(portal_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD, ip="192.0.2.9"))
    # The account itself is fine from elsewhere.
    assert api_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD, ip="192.0.2.10").status_code == 201


def _age_failures(seconds: float) -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(seconds=seconds))


@pytest.mark.usefixtures("owner_a")
def test_each_failure_past_the_budget_doubles_the_wait(budget: Any, tenant_a: Tenant) -> None:
    budget.LOGIN_LOCKOUT_ACCOUNT_FAILURES = 2
    budget.LOGIN_LOCKOUT_MAX_SECONDS = 200
    for _ in range(2):
        assert api_sign_in(tenant_a, "owner@alpha.test", WRONG).status_code == 401
    waits = []
    for _ in range(3):
        locked = api_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD)
        assert_api_locked(locked)
        waits.append(int(locked["Retry-After"]))
        _age_failures(waits[-1] + 1)  # the wait is over: one more guess is allowed ...
        assert api_sign_in(tenant_a, "owner@alpha.test", WRONG).status_code == 401  # ... and it fails
    final = api_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD)
    assert_api_locked(final)
    waits.append(int(final["Retry-After"]))
    assert 55 <= waits[0] <= 60, waits
    assert 115 <= waits[1] <= 120, waits
    assert waits[2] == waits[3] == 200, waits
    # Refused attempts during a wait are not failures: they neither extend nor grow it.
    for _ in range(5):
        assert api_sign_in(tenant_a, "owner@alpha.test", WRONG).status_code == 429
    assert int(api_sign_in(tenant_a, "owner@alpha.test", WRONG)["Retry-After"]) <= 200


@pytest.mark.usefixtures("budget")
def test_a_right_password_where_the_account_is_not_a_member_answers_like_a_wrong_one(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    right = portal_sign_in(tenant_a, "owner@beta.test", TEST_PASSWORD)
    wrong = portal_sign_in(tenant_a, "owner@beta.test", WRONG)
    assert right.status_code == wrong.status_code == 400
    assert b"Email or password is incorrect." in right.content
    assert page_text(right) == page_text(wrong)
    assert not right.signed_in
    assert not wrong.signed_in
    api_right = api_sign_in(tenant_a, "owner@beta.test", TEST_PASSWORD)
    api_wrong = api_sign_in(tenant_a, "owner@beta.test", WRONG)
    assert api_right.status_code == api_wrong.status_code == 401
    assert api_right.json() == api_wrong.json()
    # Both were counted: 4 failures, so the account is locked even on its own organization, and a
    # right password did not reset the count (which would tell the attacker it was right).
    assert_api_locked(api_sign_in(tenant_b, "owner@beta.test", TEST_PASSWORD))


def test_the_portal_sign_in_points_to_the_public_sign_in_that_lists_organizations(tenant_a: Tenant) -> None:
    page = portal_client(tenant_a).get("/login/")
    assert b"http://localhost/signin/" in page.content
    assert b"Only members of Alpha" in page.content


@pytest.mark.usefixtures("budget", "owner_a")
def test_signing_in_where_it_was_attempted_starts_the_accounts_count_over(tenant_a: Tenant) -> None:
    for _ in range(3):
        assert api_sign_in(tenant_a, "owner@alpha.test", WRONG).status_code == 401
    assert api_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD).status_code == 201
    for _ in range(3):
        assert api_sign_in(tenant_a, "owner@alpha.test", WRONG).status_code == 401
    assert api_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD).status_code == 201


@pytest.mark.usefixtures("tenant_a", "owner_a")
def test_signup_and_invitation_guesses_count_against_the_account_too(budget: Any) -> None:
    budget.LOGIN_LOCKOUT_ACCOUNT_FAILURES = 2
    signup = {"name": "Guess Inc", "slug": "guess", "email": "owner@alpha.test", "password": WRONG}
    for _ in range(2):
        assert public_client().post("/signup/", signup, REMOTE_ADDR="10.9.9.9").status_code == 200
    assert_page_locked(public_sign_in("owner@alpha.test", TEST_PASSWORD))


@pytest.mark.usefixtures("budget", "owner_a")
def test_failure_counters_live_in_postgresql_public_schema_not_the_cache(tenant_a: Tenant) -> None:
    for _ in range(4):
        api_sign_in(tenant_a, "owner@alpha.test", WRONG)
    cache.clear()  # a Valkey restart or flush erases nothing that matters here
    assert_api_locked(api_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD))
    with connection.cursor() as cursor:
        cursor.execute("SELECT schemaname FROM pg_tables WHERE tablename = 'axes_accessattempt'")
        assert cursor.fetchall() == [("public",)]
    assert AccessAttempt.objects.filter(username="owner@alpha.test").count() >= 1


@pytest.mark.usefixtures("budget", "owner_a")
def test_x_forwarded_for_is_ignored_unless_proxies_are_configured(tenant_a: Tenant, settings: Any) -> None:
    settings.LOGIN_LOCKOUT_IP_FAILURES = 3
    for i in range(3):  # a client rotating a forged header is still one address
        api_sign_in(tenant_a, f"x{i}@example.test", WRONG, ip="198.51.100.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    assert_api_locked(api_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD, ip="198.51.100.1"))

    AccessAttempt.objects.all().delete()
    settings.TRUSTED_PROXY_COUNT = 1  # one proxy (at 198.51.100.1) appends the client's address
    for i in range(3):
        api_sign_in(
            tenant_a,
            f"y{i}@example.test",
            WRONG,
            ip="198.51.100.1",
            HTTP_X_FORWARDED_FOR=f"{i}.{i}.{i}.{i}, 203.0.113.50",  # what the client wrote, then the proxy
        )
    behind = {"ip": "198.51.100.1"}
    assert_api_locked(
        api_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD, **behind, HTTP_X_FORWARDED_FOR="203.0.113.50")
    )
    ok = api_sign_in(tenant_a, "owner@alpha.test", TEST_PASSWORD, **behind, HTTP_X_FORWARDED_FOR="203.0.113.51")
    assert ok.status_code == 201
