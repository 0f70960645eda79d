"""API authentication: personal bearer tokens (this tenant's schema only) and the portal session."""

from __future__ import annotations

import copy

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from typing_extensions import override

from tenant_apps.tokens.crypto import API_TOKEN_SCHEME, secret_matches, secret_prefix
from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.scopes import SCOPE_CHOICES
from tenant_apps.tokens.selectors import api_token_authenticate
from tenant_apps.tokens.services import api_token_touch
from tenants.base.request_cache import request_cache_for


def _token_for(request: Request, raw: str) -> tuple[ApiToken, ApiToken] | None:
    """The live token for `raw`: from this process's request cache (checked again here: the secret,
    the expiry, the user's active flag), else from the database (D120). Revocation, deletion and a
    user's deactivation bump the tenant's cache generation, so they take effect on the next request.
    Returns (the cached instance, this request's copy)."""
    prefix = secret_prefix(raw, scheme=API_TOKEN_SCHEME)
    if prefix is None:
        return None
    cached = request_cache_for(request).get_or_load(("api_token", prefix), lambda: api_token_authenticate(raw=raw))
    if cached is None:
        return None
    if (
        not secret_matches(stored_hash=cached.secret_hash, raw=raw)
        or cached.revoked_at is not None
        or (cached.expires_at is not None and cached.expires_at <= timezone.now())
        or not cached.user.is_active
    ):
        return None
    # A copy per request (with its own user): nothing a request caches on them leaks into the next.
    token = copy.copy(cached)
    token.user = copy.copy(cached.user)
    return cached, token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer tnt_…`. Tokens live in the tenant's schema, so another tenant's token
    is simply unknown here (401)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[object, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if getattr(request._request, "tenant", None) is None:
            raise exceptions.AuthenticationFailed("API tokens are only valid on an organization's host.")
        if len(header) != 2:  # noqa: PLR2004 - "Bearer <token>"
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.") from None
        found = _token_for(request, raw)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        cached, token = found
        api_token_touch(token=token)
        cached.last_used_at = token.last_used_at  # the cached copy knows the use was recorded
        return token.user, token

    @override
    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenant_apps.tokens.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    @override
    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "Personal API token (`tnt_…`) with scopes: `read` (GET), `write` (other methods on projects, "
                "tasks and your tokens), `admin` (members, invitations, sharing, audit log, settings); a wider scope "
                "includes the narrower ones. Each operation names the scope it needs in `x-required-scope`; a "
                "token without it gets 403 `insufficient_scope`."
            ),
            "x-scopes": dict(SCOPE_CHOICES),
        }
