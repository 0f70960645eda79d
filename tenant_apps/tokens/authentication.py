"""API authentication: personal bearer tokens (this tenant's schema only) and the portal session."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.scopes import SCOPE_CHOICES
from tenant_apps.tokens.selectors import api_token_authenticate
from tenant_apps.tokens.services import api_token_touch


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
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.") from None
        token = api_token_authenticate(raw=raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenant_apps.tokens.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

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
