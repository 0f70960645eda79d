"""Per-request facts the API computes once: request id, client IP, the acting user, entitlements.

This is plumbing: it imports no app. The tenant's entitlements come from the loader the billing app
registers in its AppConfig.ready (`entitlements_loader_register`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from tenants.base.actor import Actor
from tenants.base.network import client_ip

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _raw(request: Any) -> HttpRequest:
    """The Django request under a DRF request (or the request itself)."""
    return getattr(request, "_request", request)


_entitlements_loader: Callable[..., Any] | None = None


def entitlements_loader_register(loader: Callable[..., Any]) -> None:
    """The app that owns plans (billing) names the function `loader(tenant=...)` that answers a tenant's
    entitlements (an object with at least `read_only` and `api_rpm`)."""
    global _entitlements_loader
    _entitlements_loader = loader


def tenant_of(request: Any) -> Any:
    """The request's tenant (a tenants.models.Tenant)."""
    return _raw(request).tenant  # type: ignore[attr-defined]


def user_of(request: Any) -> Any:
    """The authenticated user (a shared_apps.accounts User; views behind the membership gate only)."""
    return request.user


def request_id_of(request: object) -> str:
    """The caller's X-Request-ID when it is well formed, else a generated one; stable per request."""
    raw = _raw(request)
    rid = getattr(raw, "request_id", None)
    if rid is None:
        header = raw.headers.get("X-Request-ID", "")
        rid = header if REQUEST_ID_RE.match(header) else uuid.uuid4().hex
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
