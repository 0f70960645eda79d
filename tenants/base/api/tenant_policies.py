"""What the API plumbing asks about a tenant but does not decide: its entitlements and whether it may
write. The app that owns plans (billing) registers both in its AppConfig.ready; the plumbing imports no
app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_entitlements: Callable[..., Any] | None = None
_ensure_writable: Callable[..., None] | None = None


def tenant_policies_register(*, entitlements: Callable[..., Any], ensure_writable: Callable[..., None]) -> None:
    """`entitlements(tenant=...)` answers a tenant's entitlements (at least `read_only` and `api_rpm`);
    `ensure_writable(tenant=..., entitlements=...)` raises a ValidationError (code `tenant_read_only`,
    HTTP 402 in the API) when the organization may not write."""
    global _entitlements, _ensure_writable
    _entitlements = entitlements
    _ensure_writable = ensure_writable


def entitlements_for(*, tenant: Any) -> Any:
    if _entitlements is None:
        raise RuntimeError("no entitlements registered (the billing app registers them in ready())")
    return _entitlements(tenant=tenant)


def ensure_writable(*, tenant: Any, entitlements: Any) -> None:
    if _ensure_writable is None:
        raise RuntimeError("no writability policy registered (the billing app registers it in ready())")
    _ensure_writable(tenant=tenant, entitlements=entitlements)
