"""Per-request facts the API computes once: request id, client IP, the acting user, entitlements."""

from __future__ import annotations

import dataclasses
from typing import Any

from tenants.base.actor import Actor
from tenants.base.api.tenant_policies import entitlements_for
from tenants.base.network import client_ip
from tenants.base.observability import REQUEST_ID_HEADER, valid_request_id
from tenants.base.request import TenantRequest, tenant_request
from tenants.base.request_cache import request_cache_for

SUSPENDED = "suspended"  # tenants.models.TenantStatus.SUSPENDED (the base package imports no app)


def _raw(request: object) -> TenantRequest:
    """The Django request under a DRF request (or the request itself)."""
    return tenant_request(request)


def tenant_of(request: Any) -> Any:
    return _raw(request).tenant


def user_of(request: Any) -> Any:
    """The authenticated user (views behind the membership gate only)."""
    return request.user


def request_id_of(request: object) -> str:
    """The caller's X-Request-ID when it is well formed, else a generated one; stable per request."""
    raw = _raw(request)
    rid = getattr(raw, "request_id", None)
    if rid is None:
        rid = valid_request_id(raw.headers.get(REQUEST_ID_HEADER))
        raw.request_id = rid
    return rid


def client_ip_of(request: object) -> str | None:
    """REMOTE_ADDR, or X-Forwarded-For's entry from our own proxy when TRUSTED_PROXY_COUNT is set (D46)."""
    return client_ip(_raw(request))


def actor_of(request: object) -> Actor:
    user = getattr(request, "user", None)
    return Actor(
        user=user if user is not None and user.is_authenticated else None,
        ip=client_ip_of(request),
        request_id=request_id_of(request),
    )


def entitlements_of(request: object) -> Any:
    """The tenant's entitlements, once per request, and across requests from this process's request
    cache (a subscription or tenant status change bumps the tenant's generation, D120)."""
    raw = _raw(request)
    cached = getattr(raw, "entitlements", None)
    if cached is None:
        tenant = raw.tenant
        cached = request_cache_for(raw).get_or_load(("entitlements",), lambda: entitlements_for(tenant=tenant))
        # read_only follows this request's tenant row (resolution's snapshot), never a cached one.
        read_only = tenant.status == SUSPENDED
        if cached.read_only != read_only:
            cached = dataclasses.replace(cached, read_only=read_only)
        raw.entitlements = cached
    return cached
