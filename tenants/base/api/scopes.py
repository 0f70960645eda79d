"""Scope enforcement for bearer tokens (D64), applied by the API base views to every view.

A view's `scope_area` is "admin" for administrative resources; otherwise safe methods need `read`
and the rest `write`. A portal session is not limited by scopes."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.permissions import SAFE_METHODS

from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.scopes import ADMIN, READ, SCOPES, WRITE, scopes_effective


class InsufficientScope(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "This token's scopes do not allow this request."
    default_code = "insufficient_scope"


def scope_required(*, view: Any, method: str) -> str:
    if getattr(view, "scope_area", None) == ADMIN:
        return ADMIN
    return READ if method in SAFE_METHODS else WRITE


def scopes_of(request: Any) -> list[str]:
    """The caller's effective scopes: a token's own, or all of them for a portal session."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        effective = scopes_effective(token.scopes)
        return [s for s in SCOPES if s in effective]
    return list(SCOPES)


def scopes_check(*, request: Any, view: Any) -> None:
    token = getattr(request, "auth", None)
    if not isinstance(token, ApiToken):
        return
    needed = scope_required(view=view, method=request.method)
    if needed not in scopes_effective(token.scopes):
        raise InsufficientScope(f"This request needs a token with the `{needed}` scope.")
