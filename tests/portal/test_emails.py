"""Emails (issue 12, Polish): invitation, password reset, email change and two-factor changes are sent
as plain text with an HTML alternative, rendered from templates; no "Acme Inc.." doubled period."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from shared_apps.accounts.models import User
from tenants.models import Tenant
from tests.factories import TEST_PASSWORD
from tests.support.api import Api
from tests.support.clients import portal_client
from tests.two_factor_support import enrol

pytestmark = pytest.mark.django_db


def both_parts(message: Any) -> tuple[str, str]:
    assert isinstance(message, EmailMultiAlternatives)
    [(html, mime)] = message.alternatives
    assert mime == "text/html"
    assert isinstance(html, str)
    assert isinstance(message.body, str)
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "</html>" in html
    assert "<" not in message.body  # the text part is text
    return message.body, html


def no_doubled_period(*texts: str) -> None:
    for text in texts:
        assert not re.search(r"[^.]\.\.(?!\.)", text), text


def test_invitation_mail_names_an_organization_ending_with_a_period_once(
    tenant_a: Tenant, owner_a: User, django_capture_on_commit_callbacks: Any
) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(name="Acme Inc.")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(tenant_a, user=owner_a).post("/api/v1/invitations/", {"email": "new@x.test"})
    assert response.status_code == 201
    [message] = mail.outbox
    text, html = both_parts(message)
    assert message.subject == "You are invited to Acme Inc. on Tenantry"
    assert "join Acme Inc. on Tenantry." in text
    assert "<strong>Acme Inc.</strong> on Tenantry." in html
    no_doubled_period(message.subject, text, html)
    token = re.search(r"Token: (inv_\S+)", text).group(1)
    assert f"/invitations/accept/{token}/" in text
    assert f'href="http://alpha.localhost/invitations/accept/{token}/"' in html


def test_password_reset_mail_has_both_parts(tenant_a: Tenant) -> None:
    mail.outbox.clear()
    portal_client(tenant_a).post("/password-reset/", {"email": "owner@alpha.test"})
    [message] = mail.outbox
    text, html = both_parts(message)
    link = re.search(r"(http://alpha\.localhost/password-reset/[^\s]+/)", text).group(1)
    assert f'href="{link}"' in html
    assert message.subject == "Reset your Tenantry password"
    no_doubled_period(text, html)


@pytest.mark.parametrize("change", ["disabled", "recovery_codes"])
def test_two_factor_changes_are_mailed(
    tenant_a: Tenant, owner_a: User, change: str, django_capture_on_commit_callbacks: Any
) -> None:
    enrol(owner_a)
    client = portal_client(tenant_a, owner_a)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        if change == "disabled":
            response = client.post("/account/two-factor/disable/", {"password": TEST_PASSWORD})
        else:
            response = client.post("/account/two-factor/recovery-codes/")
    assert response.status_code in (200, 302)
    [message] = mail.outbox
    assert message.to == [owner_a.email]
    text, html = both_parts(message)
    words = "turned off" if change == "disabled" else "New recovery codes"
    assert words in text
    assert words in html
    assert 'href="http://alpha.localhost/account/"' in html
    no_doubled_period(message.subject, text, html)


def test_a_wrong_password_does_not_turn_two_factor_off_or_mail(
    tenant_a: Tenant, owner_a: User, django_capture_on_commit_callbacks: Any
) -> None:
    enrol(owner_a)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = portal_client(tenant_a, owner_a).post("/account/two-factor/disable/", {"password": "nope-nope-1"})
    assert response.status_code == 400
    assert b"password is incorrect" in response.content
    assert mail.outbox == []
    from shared_apps.accounts.selectors import two_factor_enabled

    assert two_factor_enabled(user=owner_a)
