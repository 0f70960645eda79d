"""CORS per organization (D65). django-cors-headers answers preflights and adds the headers; it asks
`cors_request_allowed` (its `check_request_enabled` signal) whether this request's Origin is one the
organization listed. Nothing is allowed on the public host or for origins not listed: those
responses carry no CORS headers at all."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import Signal

from tenants.base.actor import Actor
from tenants.base.api.models import CorsOrigin
from tenants.base.observability import degraded
from tenants.base.redis import VALKEY_ERRORS

ORIGIN_MAX_LENGTH = 255

MAX_ORIGINS = 20
CACHE_SECONDS = 300

# Sent inside the transaction that changed an organization's origins (kwargs: actor, tenant, origins);
# the audit app records it (AuditConfig.ready).
cors_origins_changed = Signal()


def _cache_key(tenant: Any) -> str:
    return f"api-cors:{tenant.schema_name}:{tenant.pk}"


def cors_origin_normalize(value: str) -> str:
    """`scheme://host[:port]` as browsers send it in `Origin` (lower case, default port dropped)."""
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValidationError(f"{text[:100]!r} is not an origin.", code="invalid_origin") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or len(text) > ORIGIN_MAX_LENGTH
    ):
        raise ValidationError(
            f"{text[:100]!r} is not an origin (expected scheme://host[:port], e.g. https://app.example.com).",
            code="invalid_origin",
        )
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def cors_origins_list(*, tenant: Any) -> list[str]:
    return list(CorsOrigin.objects.filter(tenant_id=tenant.pk).order_by("origin").values_list("origin", flat=True))


def cors_origins_cached(*, tenant: Any) -> frozenset[str]:
    """The organization's origins from the cache; from PostgreSQL when Valkey is unavailable."""
    key = _cache_key(tenant)
    try:
        cached = cache.get(key)
    except VALKEY_ERRORS as exc:
        degraded(component="cache", feature="cors_origins", exc=exc)
        return frozenset(cors_origins_list(tenant=tenant))
    if cached is not None:
        return frozenset(cached)
    origins = cors_origins_list(tenant=tenant)
    try:
        cache.set(key, origins, timeout=CACHE_SECONDS)
    except VALKEY_ERRORS as exc:
        degraded(component="cache", feature="cors_origins", exc=exc)
    return frozenset(origins)


@transaction.atomic
def cors_origins_set(*, actor: Actor, tenant: Any, origins: list[str]) -> list[str]:
    """Replace the organization's allowed origins (normalised, deduplicated); audited."""
    wanted = sorted({cors_origin_normalize(o) for o in origins if o.strip()})
    if len(wanted) > MAX_ORIGINS:
        raise ValidationError(f"At most {MAX_ORIGINS} origins.", code="too_many_origins")
    before = cors_origins_list(tenant=tenant)
    CorsOrigin.objects.filter(tenant_id=tenant.pk).exclude(origin__in=wanted).delete()
    CorsOrigin.objects.bulk_create(
        [CorsOrigin(tenant_id=tenant.pk, origin=o) for o in wanted if o not in before], ignore_conflicts=True
    )
    if wanted != before:
        cors_origins_changed.send(sender=CorsOrigin, actor=actor, tenant=tenant, origins=wanted)

    def invalidate() -> None:
        try:
            cache.delete(_cache_key(tenant))
        except VALKEY_ERRORS as exc:
            degraded(component="cache", feature="cors_origins", exc=exc)

    invalidate()  # now, and again after the commit (a reader may have cached the old list between)
    transaction.on_commit(invalidate)
    return wanted


def cors_request_allowed(sender: Any = None, request: Any = None, **kwargs: Any) -> bool:
    """django-cors-headers' `check_request_enabled` receiver."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        return False
    origin = request.headers.get("Origin") if request is not None else None
    if not origin:
        return False
    return origin in cors_origins_cached(tenant=tenant)
