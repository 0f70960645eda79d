"""The public signup page mails whoever's address is typed in (a confirmation link, or a notice to an
existing account). Those mails are capped per address and per client IP, so the page cannot be used to
flood someone's inbox, and the records behind the cap are purged (decision D76)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from shared_apps.public_site.models import PendingSignup, SignupMail
from shared_apps.public_site.services import signup_records_purge

pytestmark = pytest.mark.django_db


NEW_PASSWORD = "a-long-enough-pass"


def signup(email: str, *, ip: str = "198.51.100.7", slug: str = "gamma", password: str = NEW_PASSWORD) -> Any:
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR=ip)
    return client.post("/signup/", {"name": "Gamma Inc", "slug": slug, "email": email, "password": password})


@pytest.fixture
def budget(settings: Any) -> Any:
    settings.SIGNUP_MAILS_PER_ADDRESS = 2
    settings.SIGNUP_MAILS_PER_IP = 4
    return settings


@pytest.mark.usefixtures("budget")
def test_an_address_gets_a_few_mails_then_the_page_answers_the_same_and_sends_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    mail.outbox.clear()
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):  # the attacker changes address
        with django_capture_on_commit_callbacks(execute=True):
            response = signup("victim@example.test", ip=ip)
        assert response.status_code == 200
        assert b"Check your inbox" in response.content
    assert [m.to for m in mail.outbox] == [["victim@example.test"], ["victim@example.test"]]
    assert PendingSignup.objects.filter(email="victim@example.test").count() == 2


@pytest.mark.usefixtures("budget", "tenant_a", "owner_a")
def test_an_existing_accounts_notices_count_the_same_way(django_capture_on_commit_callbacks: Any) -> None:
    mail.outbox.clear()
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        with django_capture_on_commit_callbacks(execute=True):
            response = signup("owner@alpha.test", ip=ip, password="not-the-password-1")
        # Looks exactly like an address without an account (no enumeration), and like the first time.
        assert response.status_code == 200
        assert b"Check your inbox" in response.content
    assert len([m for m in mail.outbox if m.to == ["owner@alpha.test"]]) == 2


@pytest.mark.usefixtures("budget")
def test_one_network_asking_for_many_mails_gets_429_and_nothing_is_sent(
    django_capture_on_commit_callbacks: Any,
) -> None:
    mail.outbox.clear()
    for i in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            assert signup(f"someone{i}@example.test", slug=f"org{i}").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        refused = signup("one-more@example.test", slug="org9")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"Too many signups" in refused.content
    assert len(mail.outbox) == 4
    assert not PendingSignup.objects.filter(email="one-more@example.test").exists()
    # Another network is not affected.
    with django_capture_on_commit_callbacks(execute=True):
        assert signup("one-more@example.test", ip="203.0.113.5", slug="org9").status_code == 200
    assert len(mail.outbox) == 5


def test_the_budget_comes_back_after_the_window(budget: Any, django_capture_on_commit_callbacks: Any) -> None:
    for _ in range(2):
        signup("victim@example.test")
    SignupMail.objects.update(sent_at=timezone.now() - dt.timedelta(hours=budget.SIGNUP_MAIL_WINDOW_HOURS, minutes=1))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert signup("victim@example.test").status_code == 200
    assert [m.to for m in mail.outbox] == [["victim@example.test"]]


def test_purge_drops_old_pending_signups_and_mail_records_only() -> None:
    now = timezone.now()
    keep = PendingSignup.objects.create(
        email="fresh@example.test",
        name="F",
        slug="fresh",
        password_hash="x",
        secret_hash="a" * 64,
        expires_at=now + dt.timedelta(hours=20),
    )
    PendingSignup.objects.create(
        email="old@example.test",
        name="O",
        slug="old",
        password_hash="x",
        secret_hash="b" * 64,
        expires_at=now - dt.timedelta(days=2),
    )
    PendingSignup.objects.create(
        email="done@example.test",
        name="D",
        slug="done",
        password_hash="x",
        secret_hash="c" * 64,
        expires_at=now + dt.timedelta(hours=1),
        completed_at=now - dt.timedelta(days=2),
    )
    recent = SignupMail.objects.create(email="fresh@example.test", ip="198.51.100.7")
    old = SignupMail.objects.create(email="old@example.test", ip="198.51.100.7")
    SignupMail.objects.filter(pk=old.pk).update(sent_at=now - dt.timedelta(days=1))
    signup_records_purge(now=now)
    # (Rows other tests committed, e.g. the browser signup, are not this test's business.)
    assert set(
        PendingSignup.objects.filter(
            email__in=["fresh@example.test", "old@example.test", "done@example.test"]
        ).values_list("pk", flat=True)
    ) == {keep.pk}
    assert SignupMail.objects.filter(pk=recent.pk).exists()
    assert not SignupMail.objects.filter(pk=old.pk).exists()
