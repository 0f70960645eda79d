"""Signup writes. Every signup from a visitor who is not signed in answers the same way ("check your
inbox") whether or not the email has an account, so the page cannot be used to find accounts
(docs/decisions.md D44):

- the email has an account and the password is right: that is a successful sign-in, and the
  organization is created at once with that account as its owner;
- the email has no account: a pending signup is stored and a confirmation link is mailed; following
  it creates the account (with the password chosen at signup) and the organization;
- the email has an account and the password is wrong (or the account is locked out): nothing is
  created; that address gets a message saying how to create the organization with its account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from shared_apps.accounts.models import User
from shared_apps.accounts.services import organization_provision, user_create
from shared_apps.public_site.models import PendingSignup, SignupMail
from tenants.models import Tenant

_TOKEN_MAX_LENGTH = 100

SIGNUP_CONFIRM_TTL_HOURS = 24


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _mail(*, email: str, subject: str, body: str) -> None:
    transaction.on_commit(
        lambda: send_mail(
            subject=subject,
            message=body,
            from_email=getattr(settings, "DEFAULT_FROM_EMAIL", None),
            recipient_list=[email],
            fail_silently=True,
        )
    )


@transaction.atomic
def signup_request(*, email: str, name: str, slug: str, password: str, origin: str) -> None:
    """Mail a confirmation link for a new organization (no account with this email yet)."""
    raw = secrets.token_urlsafe(32)
    PendingSignup.objects.create(
        email=email.strip().lower(),
        name=name,
        slug=slug,
        password_hash=make_password(password),
        secret_hash=_hash(raw),
        expires_at=timezone.now() + dt.timedelta(hours=SIGNUP_CONFIRM_TTL_HOURS),
    )
    _mail(
        email=email,
        subject=f"Confirm your new organization {name} on Tenantry",
        body=(
            f"Follow this link to finish creating {name} ({slug}) on Tenantry:\n\n"
            f"{origin.rstrip('/')}/signup/confirm/{raw}/\n\n"
            f"The link works once, for {SIGNUP_CONFIRM_TTL_HOURS} hours. "
            "If you did not ask for this, ignore this message: nothing is created without it.\n"
        ),
    )


def signup_existing_account_notice(*, email: str, name: str, origin: str) -> None:
    """Tell an existing account that someone asked for an organization with its email (the password
    given was not its password). Nothing is created."""
    base = origin.rstrip("/")
    _mail(
        email=email,
        subject=f"About creating {name} on Tenantry",
        body=(
            f"Someone asked to create the organization {name} on Tenantry with this email address, which "
            "already has a Tenantry account, but without that account's password. Nothing was created.\n\n"
            f"If it was you: sign up again at {base}/signup/ with your existing password (forgot it? "
            f"{base}/password-reset/), or sign in at {base}/signin/ to open your organizations.\n"
            "If it was not you, you can ignore this message.\n"
        ),
    )


def signup_mail_budget_take(*, email: str, ip: str | None) -> str:
    """Whether the signup page may send one more mail to `email` for a visitor at `ip`, recording it
    when it may. Answers "ok"; "address" when that address had SIGNUP_MAILS_PER_ADDRESS mails within
    SIGNUP_MAIL_WINDOW_HOURS (the page then shows "check your inbox" and sends nothing: the same for
    every address, so it reveals nothing); "network" when that IP caused SIGNUP_MAILS_PER_IP (429)."""
    since = timezone.now() - dt.timedelta(hours=settings.SIGNUP_MAIL_WINDOW_HOURS)
    email = email.strip().lower()
    with transaction.atomic():
        # One address at a time, so concurrent requests cannot both take the last mail.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"signup-mail:{email}"])
        if ip and SignupMail.objects.filter(ip=ip, sent_at__gte=since).count() >= settings.SIGNUP_MAILS_PER_IP:
            return "network"
        if SignupMail.objects.filter(email=email, sent_at__gte=since).count() >= settings.SIGNUP_MAILS_PER_ADDRESS:
            return "address"
        SignupMail.objects.create(email=email, ip=ip)
    return "ok"


def signup_records_purge(*, now: dt.datetime | None = None) -> int:
    """Delete pending signups that were completed or expired a day ago, and mail records past their
    window. Returns how many rows went."""
    now = now or timezone.now()
    pending, _ = PendingSignup.objects.filter(expires_at__lt=now - dt.timedelta(days=1)).delete()
    done, _ = PendingSignup.objects.filter(completed_at__lt=now - dt.timedelta(days=1)).delete()
    mails, _ = SignupMail.objects.filter(
        sent_at__lt=now - dt.timedelta(hours=settings.SIGNUP_MAIL_WINDOW_HOURS)
    ).delete()
    return pending + done + mails


def signup_pending_get(*, raw: str) -> PendingSignup | None:
    """The unexpired, unused pending signup for a confirmation token, else None."""
    if not raw or len(raw) > _TOKEN_MAX_LENGTH:
        return None
    return PendingSignup.objects.filter(
        secret_hash=_hash(raw), completed_at__isnull=True, expires_at__gt=timezone.now()
    ).first()


@transaction.atomic
def signup_confirm(*, pending: PendingSignup) -> tuple[User, Tenant]:
    """Create the account (unless the address has one by now) and the organization, once."""
    pending = PendingSignup.objects.select_for_update().get(pk=pending.pk)
    if pending.completed_at is not None:
        from django.core.exceptions import ValidationError

        raise ValidationError("This link has already been used.", code="signup_used")
    user = User.objects.filter(email__iexact=pending.email).first()
    if user is None:
        user = user_create(email=pending.email, password=None)
        user.password = pending.password_hash
        user.save(update_fields=["password"])
    tenant = organization_provision(slug=pending.slug, name=pending.name, owner_email=user.email)
    pending.completed_at = timezone.now()
    pending.password_hash = ""
    pending.save(update_fields=["completed_at", "password_hash"])
    return user, tenant
