"""API token reads."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from shared_apps.accounts.models import User
from tenant_apps.tokens.crypto import API_TOKEN_SCHEME, secret_matches, secret_prefix
from tenant_apps.tokens.models import ApiToken


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The live token for `raw` (with its user, two queries), or None: unknown, wrong secret, revoked, expired."""
    prefix = secret_prefix(raw, scheme=API_TOKEN_SCHEME)
    if prefix is None:
        return None
    token = (
        ApiToken.objects.filter(prefix=prefix, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .first()
    )
    if token is None or not secret_matches(stored_hash=token.secret_hash, raw=raw):
        return None
    # The user from the control database, not joined in the tenant's schema: on a shard that join would
    # read the replicated copy of users, which can lag (a new user's first token, a deactivation).
    user = User.objects.filter(pk=token.user_id, is_active=True).first()
    if user is None:
        return None
    token.user = user
    return token


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)
