"""Invitation and member reads."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from tenant_apps.invitations.models import Invitation, InvitationStatus
from tenant_apps.tokens.crypto import INVITATION_SCHEME, secret_matches, secret_prefix


def invitation_list() -> QuerySet[Invitation]:
    return Invitation.objects.all()


def invitation_get(*, invitation_id: int) -> Invitation | None:
    return Invitation.objects.filter(pk=invitation_id).first()


def invitation_get_locked(*, invitation_id: int) -> Invitation | None:
    """The invitation row locked until the caller's transaction ends (If-Match is compared on it)."""
    return Invitation.objects.select_for_update().filter(pk=invitation_id).first()


def invitation_pending_count() -> int:
    return Invitation.objects.filter(status=InvitationStatus.PENDING, expires_at__gt=timezone.now()).count()


def invitation_by_token(*, raw: str) -> Invitation | None:
    """The pending, unexpired invitation for a token, else None."""
    prefix = secret_prefix(raw, scheme=INVITATION_SCHEME)
    if prefix is None:
        return None
    invitation = Invitation.objects.filter(
        prefix=prefix, status=InvitationStatus.PENDING, expires_at__gt=timezone.now()
    ).first()
    if invitation is None or not secret_matches(stored_hash=invitation.secret_hash, raw=raw):
        return None
    return invitation
