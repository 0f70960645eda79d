"""Scope enforcement for bearer tokens (D64), applied by the API base views to every view.

A view's `scope_area` is "admin" for administrative resources; otherwise safe methods need `read`
and the rest `write`. A portal session is not limited by scopes. The vocabulary lives here, below the
apps: `read` (safe methods), `write` (changes to projects, tasks and your own tokens), `admin`
(members, invitations, sharing, audit log, organization settings); a wider scope includes the
narrower ones (admin ⊇ write ⊇ read). A credential limited by scopes (an API token,
tenant_apps/tokens) carries them as its `scopes` attribute."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework import exceptions, status
from rest_framework.permissions import SAFE_METHODS

READ = "read"
WRITE = "write"
ADMIN = "admin"
SCOPES: tuple[str, ...] = (READ, WRITE, ADMIN)
_RANK = {READ: 0, WRITE: 1, ADMIN: 2}


def scopes_effective(granted: Iterable[str]) -> frozenset[str]:
    top = max((_RANK[s] for s in granted if s in _RANK), default=-1)
    return frozenset(s for s, rank in _RANK.items() if rank <= top)


def _granted(request: Any) -> Iterable[str] | None:
    """The scopes the request's credential carries, or None when it is not limited by scopes (a session)."""
    return getattr(getattr(request, "auth", None), "scopes", None)


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
    granted = _granted(request)
    if granted is not None:
        effective = scopes_effective(granted)
        return [s for s in SCOPES if s in effective]
    return list(SCOPES)


def scopes_check(*, request: Any, view: Any) -> None:
    granted = _granted(request)
    if granted is None:
        return
    needed = scope_required(view=view, method=request.method)
    if needed not in scopes_effective(granted):
        raise InsufficientScope(f"This request needs a token with the `{needed}` scope.")
