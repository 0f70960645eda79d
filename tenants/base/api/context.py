"""Per-request facts the API computes once: request id, client IP, the acting user, entitlements.

This is plumbing: it imports no app. The tenant's entitlements, and the rule whether it may write, come
from the functions the billing app registers in its AppConfig.ready (`tenant_policies_register`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from tenants.base.actor import Actor
from tenants.base.network import client_ip
from tenants.base.observability import REQUEST_ID_HEADER, valid_request_id


def _raw(request: Any) -> HttpRequest:
    """The Django request under a DRF request (or the request itself)."""
    return getattr(request, "_request", request)


_entitlements_loader: Callable[..., Any] | None = None
_writable_ensure: Callable[..., None] | None = None


def tenant_policies_register(*, entitlements: Callable[..., Any], ensure_writable: Callable[..., None]) -> None:
    """The app that owns plans (billing) names `entitlements(tenant=...)`, which answers a tenant's
    entitlements (at least `read_only` and `api_rpm`), and `ensure_writable(tenant=..., entitlements=...)`,
    which raises a ValidationError (code `tenant_read_only`) when the organization may not write."""
    global _entitlements_loader, _writable_ensure
    _entitlements_loader = entitlements
    _writable_ensure = ensure_writable


def tenant_of(request: Any) -> Any:
    """The request's tenant (a tenants.models.Tenant)."""
    return _raw(request).tenant  # type: ignore[attr-defined]


def user_of(request: Any) -> Any:
    """The authenticated user (a shared_apps.accounts User; views behind the membership gate only)."""
    return request.user


def request_id_of(request: object) -> str:
    """The caller's X-Request-ID when it is well formed, else a generated one; stable per request (the
    request-context middleware has usually set it already; one rule: observability.valid_request_id)."""
    raw = _raw(request)
    rid = getattr(raw, "request_id", None)
    if rid is None:
        rid = valid_request_id(raw.headers.get(REQUEST_ID_HEADER))
        raw.request_id = rid  # type: ignore[attr-defined]
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
    """The tenant's entitlements (billing.selectors.Entitlements), loaded at most once per request."""
    raw = _raw(request)
    cached = getattr(raw, "entitlements", None)
    if cached is None:
        if _entitlements_loader is None:
            raise RuntimeError("no entitlements loader registered (the billing app registers it in ready())")
        cached = _entitlements_loader(tenant=raw.tenant)  # type: ignore[attr-defined]
        raw.entitlements = cached  # type: ignore[attr-defined]
    return cached


def writable_ensure(request: object) -> None:
    """Refuse a write on an organization that may not write (billing.policies.tenant_ensure_writable)."""
    if _writable_ensure is None:
        raise RuntimeError("no writability policy registered (the billing app registers it in ready())")
    _writable_ensure(tenant=_raw(request).tenant, entitlements=entitlements_of(request))  # type: ignore[attr-defined]
