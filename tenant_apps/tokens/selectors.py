"""API token reads."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from shared_apps.accounts.models import User
from tenant_apps.tokens.crypto import API_TOKEN_SCHEME, secret_matches, secret_prefix
from tenant_apps.tokens.models import ApiToken


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The live token for `raw` (with its user, one query), or None: unknown, wrong secret, revoked, expired."""
    prefix = secret_prefix(raw, scheme=API_TOKEN_SCHEME)
    if prefix is None:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .first()
    )
    if token is None or not secret_matches(stored_hash=token.secret_hash, raw=raw) or not token.user.is_active:
        return None
    return token


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)
