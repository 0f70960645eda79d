"""The typed view of a Django request once the tenant middleware and the access checks have run.

The middleware and the portal/API access checks set attributes on the request (``tenant``,
``membership``, ``entitlements``, ``request_id``); ``HttpRequest`` does not declare them. Annotate with
:class:`TenantRequest` and cross the boundary once with :func:`tenant_request` (a ``cast``: no runtime
cost, no copy) instead of ``# type: ignore[attr-defined]`` at every use.

This is the base package: it names no app, so the tenant, the membership and the entitlements are
described by the little they must offer here (the apps' models satisfy these protocols structurally).
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from django.http import HttpRequest


class TenantLike(Protocol):
    @property
    def pk(self) -> Any: ...

    @property
    def schema_name(self) -> str: ...


class MembershipLike(Protocol):
    @property
    def role(self) -> str: ...


class TenantRequest(HttpRequest):
    """Not instantiated: a type for the attributes the middleware and access checks set."""

    tenant: Any  # the tenant model (None on the public schema); an app type the base package cannot name
    membership: MembershipLike
    entitlements: Any  # billing's Entitlements: an app type the base package cannot name
    request_id: str


def tenant_request(request: object) -> TenantRequest:
    """The request as a :class:`TenantRequest` (DRF's ``Request`` is unwrapped to the Django request)."""
    raw = getattr(request, "_request", request)
    return cast(TenantRequest, raw)
