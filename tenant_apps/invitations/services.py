"""Invitations: writes (member writes: tenant_apps/members/services.py). Membership rows live in
`public`, audit rows in the tenant's schema; both are on the same connection, so one transaction covers them."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from billing.policies import tenant_ensure_writable
from billing.selectors import entitlements_for_tenant
from shared_apps.accounts.emails import email_send_on_commit
from shared_apps.accounts.models import Membership, Role, User
from shared_apps.accounts.policies import role_grantable
from shared_apps.accounts.selectors import membership_count
from shared_apps.accounts.services import membership_add, user_create
from tenant_apps.audit.services import audit_event_record
from tenant_apps.invitations.models import Invitation, InvitationStatus
from tenant_apps.invitations.selectors import invitation_pending_count
from tenant_apps.members.services import role_not_grantable_error
from tenant_apps.outgoing.services import outbox_record
from tenant_apps.tokens.crypto import INVITATION_SCHEME, secret_hash, secret_new
from tenants.base.actor import Actor
from tenants.models import Tenant
from tenants.selectors import tenant_origin

INVITATION_TTL_DAYS = 7


def invitation_accept_url(*, base_url: str, raw: str) -> str:
    """The portal page where the invitee accepts; `base_url` is the tenant host's origin."""
    return f"{base_url.rstrip('/')}/invitations/accept/{raw}/"


def _invitation_mail_on_commit(*, tenant: Tenant, email: str, raw: str, base_url: str) -> None:
    """The invitation mail (plain text and HTML, templates/emails/invitation/), sent after commit."""
    url = invitation_accept_url(base_url=base_url, raw=raw)
    context = {"organization": tenant.name, "url": url, "token": raw, "ttl_days": INVITATION_TTL_DAYS}
    email_send_on_commit(name="invitation", to=email, context=context)


def _lock_seats(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"seats:{tenant.pk}"])


def _seat_limit_error(limit: int) -> ValidationError:
    return ValidationError(
        f"Your plan allows {limit} members (pending invitations included). Upgrade for more seats.",
        code="plan_limit_seats",
    )


@transaction.atomic
def invitation_create(
    *,
    actor: Actor,
    actor_role: str,
    tenant: Tenant,
    email: str,
    role: str,
    base_url: str = "",
    ttl_days: int = INVITATION_TTL_DAYS,
) -> tuple[Invitation, str]:
    """Invite someone by email (the inviter, whose role is `actor_role`, may grant `role`: accounts.policies).
    Returns the invitation and its token; the token goes only into the invitee's email (D43) and is
    returned here for that mail and for tests, never to the inviter."""
    tenant_ensure_writable(tenant=tenant)
    email = email.strip().lower()
    if role not in Role.values:
        raise ValidationError({"role": ValidationError("Unknown role.", code="invalid_role")})
    if not role_grantable(by=actor_role, role=role):
        raise role_not_grantable_error(role, verb="invite")
    _lock_seats(tenant)
    if Membership.objects.filter(tenant_id=tenant.pk, user__email__iexact=email).exists():
        raise ValidationError("This person is already a member.", code="already_member")
    if Invitation.objects.filter(
        email__iexact=email, status=InvitationStatus.PENDING, expires_at__gt=timezone.now()
    ).exists():
        raise ValidationError("A pending invitation for this email exists.", code="invitation_exists")
    seats = entitlements_for_tenant(tenant=tenant).seats
    if seats is not None and membership_count(tenant_id=tenant.pk) + invitation_pending_count() >= seats:
        raise _seat_limit_error(seats)
    prefix, raw = secret_new(scheme=INVITATION_SCHEME)
    invitation = Invitation.objects.create(
        email=email,
        role=role,
        prefix=prefix,
        secret_hash=secret_hash(raw),
        invited_by=actor.user,
        expires_at=timezone.now() + dt.timedelta(days=ttl_days),
    )
    audit_event_record(
        actor=actor,
        action="invitation.created",
        target_type="invitation",
        target_id=invitation.pk,
        data={"email": email, "role": role},
    )
    outbox_record(event_type="invitation.created", obj=invitation)
    _invitation_mail_on_commit(tenant=tenant, email=email, raw=raw, base_url=base_url or tenant_origin(tenant=tenant))
    return invitation, raw


@transaction.atomic
def invitation_resend(
    *, actor: Actor, tenant: Tenant, invitation: Invitation, base_url: str = "", ttl_days: int = INVITATION_TTL_DAYS
) -> tuple[Invitation, str]:
    """Send a pending invitation again with a fresh token and expiry; the old link stops working."""
    tenant_ensure_writable(tenant=tenant)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != InvitationStatus.PENDING:
        raise ValidationError("Only pending invitations can be resent.", code="invitation_not_pending")
    prefix, raw = secret_new(scheme=INVITATION_SCHEME)
    invitation.prefix = prefix
    invitation.secret_hash = secret_hash(raw)
    invitation.expires_at = timezone.now() + dt.timedelta(days=ttl_days)
    invitation.save(update_fields=["prefix", "secret_hash", "expires_at"])
    audit_event_record(
        actor=actor,
        action="invitation.resent",
        target_type="invitation",
        target_id=invitation.pk,
        data={"email": invitation.email},
    )
    _invitation_mail_on_commit(
        tenant=tenant, email=invitation.email, raw=raw, base_url=base_url or tenant_origin(tenant=tenant)
    )
    return invitation, raw


@transaction.atomic
def invitation_revoke(*, actor: Actor, invitation: Invitation) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != InvitationStatus.PENDING:
        raise ValidationError("Only pending invitations can be revoked.", code="invitation_not_pending")
    invitation.status = InvitationStatus.REVOKED
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["status", "revoked_at"])
    audit_event_record(
        actor=actor,
        action="invitation.revoked",
        target_type="invitation",
        target_id=invitation.pk,
        data={"email": invitation.email},
    )
    return invitation


CREDENTIAL_PROMPT = (
    "Enter a password: your Tenantry account's password if you already have one, or a new one (at least "
    "10 characters) to create your account."
)


@transaction.atomic
def invitation_accept(
    *,
    actor: Actor,
    tenant: Tenant,
    invitation: Invitation,
    password: str | None = None,
    full_name: str = "",
    account: User | None = None,
) -> Membership:
    """Join the organization as the invited email.

    If that email has an account, it joins only with its own consent: `account` must be that account,
    authenticated by the caller (its password through accounts.services.user_authenticate, or its
    session). Otherwise a new account is created with `password`. Both cases ask for the same thing
    (a password) and refuse its absence with the same error, so the answer does not tell whether the
    email has an account (D43, D44).
    """
    tenant_ensure_writable(tenant=tenant)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != InvitationStatus.PENDING or invitation.expires_at <= timezone.now():
        raise ValidationError("This invitation is no longer valid.", code="invitation_invalid")
    user = User.objects.filter(email__iexact=invitation.email).first()
    if user is not None:
        if account is None or account.pk != user.pk:
            raise ValidationError({"password": ValidationError(CREDENTIAL_PROMPT, code="required")})
    else:
        if not password:
            raise ValidationError({"password": ValidationError(CREDENTIAL_PROMPT, code="required")})
        candidate = User(email=invitation.email, full_name=full_name)
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            raise ValidationError({"password": exc.error_list}) from None
        user = user_create(email=invitation.email, password=password, full_name=full_name)
    if Membership.objects.filter(tenant_id=tenant.pk, user=user).exists():
        raise ValidationError("You are already a member.", code="already_member")
    _lock_seats(tenant)
    seats = entitlements_for_tenant(tenant=tenant).seats
    if seats is not None and membership_count(tenant_id=tenant.pk) >= seats:
        raise _seat_limit_error(seats)
    membership = membership_add(user=user, tenant_id=tenant.pk, role=invitation.role)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["status", "accepted_at", "accepted_by"])
    audit_event_record(
        actor=Actor(user=user, ip=actor.ip, request_id=actor.request_id),
        action="invitation.accepted",
        target_type="invitation",
        target_id=invitation.pk,
        data={"user_id": user.pk, "role": invitation.role},
    )
    outbox_record(event_type="invitation.accepted", obj=invitation)
    outbox_record(event_type="member.joined", obj=membership)
    return membership
