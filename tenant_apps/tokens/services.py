"""API token writes. A token is `tnt_<prefix>_<secret>`; only sha256(token) is stored."""

from __future__ import annotations

import datetime as dt

from django.db import DatabaseError, transaction
from django.utils import timezone

from shared_apps.accounts.models import User
from tenant_apps.audit.services import audit_event_record
from tenant_apps.tokens.crypto import API_TOKEN_SCHEME, secret_hash, secret_new
from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.scopes import scopes_default, scopes_normalized
from tenants.base.actor import Actor
from tenants.conn import connection
from tenants.moves_gate import pause_in_effect

MAX_EXPIRY_DAYS = 3650


@transaction.atomic
def api_token_create(
    *,
    actor: Actor,
    user: User,
    name: str = "",
    expires_in_days: int | None = None,
    scopes: list[str] | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns it with the plain secret, which is never stored or shown again.
    `scopes` default to full access (read, write, admin)."""
    granted = scopes_normalized(scopes) if scopes else scopes_default()
    prefix, raw = secret_new(scheme=API_TOKEN_SCHEME)
    expires_at = None
    if expires_in_days is not None:
        expires_at = timezone.now() + dt.timedelta(days=expires_in_days)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=prefix, secret_hash=secret_hash(raw), expires_at=expires_at, scopes=granted
    )
    audit_event_record(
        actor=actor,
        action="api_token.created",
        target_type="api_token",
        target_id=token.pk,
        data={"name": name, "prefix": prefix, "scopes": granted},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_event_record(
            actor=actor,
            action="api_token.revoked",
            target_type="api_token",
            target_id=token.pk,
            data={"prefix": token.prefix},
        )
    return token


def api_token_touch(*, token: ApiToken, min_interval_seconds: int = 60) -> None:
    """Record use at most once a minute (not audited: it is bookkeeping, not a user's write)."""
    now = timezone.now()
    if token.last_used_at is not None and (now - token.last_used_at).total_seconds() < min_interval_seconds:
        return
    if pause_in_effect(getattr(getattr(connection, "tenant", None), "writes_paused_at", None)):
        return  # a move holds this organization's writes (tenants/moves.py): a read must not wait on it
    try:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    except DatabaseError as exc:  # the old copy of a just-moved organization: not worth failing a read
        if "tenantry_moved_away" not in str(exc):
            raise
        return
    token.last_used_at = now
