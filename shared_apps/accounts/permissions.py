"""The membership gate every tenant API view passes: non-members get 404, read-only tenants 402."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from typing_extensions import override

from shared_apps.accounts.models import Membership
from shared_apps.accounts.policies import ADMIN_ROLES
from shared_apps.accounts.selectors import membership_get
from tenants.base.api.context import entitlements_of
from tenants.base.api.tenant_policies import ensure_writable
from tenants.base.request import tenant_request
from tenants.base.request_cache import request_cache_for

_MISSING = object()


def membership_of(request: Request) -> Membership | None:
    """The caller's membership in this tenant, loaded at most once per request, and across requests
    from this process's request cache (a change to the membership bumps the tenant's generation, D120)."""
    raw = request._request
    cached = getattr(raw, "membership", _MISSING)
    if cached is _MISSING:
        tenant = getattr(raw, "tenant", None)
        user = request.user
        cached = None
        if tenant is not None and user is not None and user.is_authenticated:
            cached = request_cache_for(raw).get_or_load(
                ("membership", user.pk),
                lambda: membership_get(user=user, tenant_id=tenant.pk),
                copy=True,
            )
        raw.membership = cached  # type: ignore[attr-defined]  # None: looked, not a member
    return cached  # type: ignore[return-value]


def require_writable(request: Request) -> None:
    """A write on a read-only organization: 402 `tenant_read_only` (the rule: billing.policies)."""
    if request.method not in SAFE_METHODS:
        ensure_writable(tenant=tenant_request(request).tenant, entitlements=entitlements_of(request))


class IsTenantMember(BasePermission):
    """Authenticated + member of this tenant. Superusers get nothing extra: no membership, no access."""

    def has_permission(self, request: Request, view: object) -> bool:
        if getattr(request._request, "tenant", None) is None:
            raise exceptions.NotFound()
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        membership = membership_of(request)
        if membership is None:
            raise exceptions.NotFound()
        request.membership = membership  # type: ignore[attr-defined]
        if not getattr(view, "writable_when_read_only", False):
            require_writable(request)
        return True


class IsTenantAdmin(IsTenantMember):
    """Owner or admin of this tenant (after the membership gate)."""

    message = "Only the organization's owners and admins can do this."

    def has_permission(self, request: Request, view: object) -> bool:
        super().has_permission(request, view)
        return tenant_request(request).membership.role in ADMIN_ROLES


class OnTenantHost(BasePermission):
    """Anonymous endpoints (token exchange, invitation acceptance) still need a tenant host."""

    @override
    def has_permission(self, request: Request, view: object) -> bool:
        if getattr(request._request, "tenant", None) is None:
            raise exceptions.NotFound()
        require_writable(request)
        return True
