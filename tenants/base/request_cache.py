"""Per-process cache of what every API request reads (the token, the membership, the entitlements),
kept honest by one generation value per tenant in Valkey (D120).

Each process keeps, per tenant, the values it loaded and the tenant's generation they were loaded
under. A request reads the tenant's generation once (one Valkey round trip, `SET … NX GET`, which
also creates it); entries of another generation are dropped. Anything that changes what these reads
return (a membership added, changed or removed, a token created or revoked, a user deactivated, a
subscription or the tenant's status changed) calls `request_cache_bump(tenant_id=…)`: a new random
generation, set at once and again after the transaction commits (another process may re-read the
old rows between the change and the commit). So a removal or a revocation takes effect on the next
request in every process. The generation is random, never a counter: a Valkey restart (the key
lost) cannot bring an old generation back.

Degrading: when Valkey cannot be reached, nothing is read from or stored in this cache (every read
goes to PostgreSQL, as without the cache), a bump that could not be written is retried on this
process's next successful Valkey call, and the fallback is counted as
tenantry_degraded_total{component="redis", feature="request_cache"}. An entry is never trusted
for longer than API_REQUEST_CACHE_SECONDS (default 60), which bounds what a change made during an
outage by a process that then goes away could leave behind.

Values are shared between requests: callers that hand out model instances copy them (`copy=True`).
Only request-path reads use this cache, at the start of a request, before the request writes
anything (so nothing it stores comes from a transaction that is later rolled back).
"""

from __future__ import annotations

import copy as copy_module
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver

from tenants.base.redis import VALKEY_ERRORS, redis_client

T = TypeVar("T")

GENERATION_TTL_SECONDS = 7 * 24 * 3600
MAX_ENTRIES_PER_TENANT = 10_000
MAX_TENANTS = 10_000


def _key(tenant_id: int) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'tenantry')}:reqcache:gen:{tenant_id}"


def _max_age() -> float:
    return float(settings.API_REQUEST_CACHE_SECONDS)


class _TenantEntries:
    __slots__ = ("entries", "generation")

    def __init__(self, generation: str) -> None:
        self.generation = generation
        self.entries: dict[Any, tuple[Any, float]] = {}


_lock = threading.Lock()
_tenants: dict[int, _TenantEntries] = {}
_pending_bumps: set[int] = set()  # bumps Valkey refused; written again on the next success


def _new_generation() -> str:
    return uuid.uuid4().hex


def _flush_pending_bumps(client: Any) -> None:
    with _lock:
        pending = set(_pending_bumps)
        _pending_bumps.clear()
    for tenant_id in pending:
        try:
            client.set(_key(tenant_id), _new_generation(), ex=GENERATION_TTL_SECONDS)
        except VALKEY_ERRORS:
            with _lock:
                _pending_bumps.add(tenant_id)
            raise


def generation_read(*, tenant_id: int) -> str | None:
    """The tenant's current generation (created when missing), or None while Valkey is unavailable."""
    try:
        client = redis_client()
        if _pending_bumps:
            _flush_pending_bumps(client)
        fresh = _new_generation()
        old = client.set(_key(tenant_id), fresh, nx=True, get=True, ex=GENERATION_TTL_SECONDS)
    except VALKEY_ERRORS as exc:
        from tenants.base.observability import degraded

        degraded(component="redis", feature="request_cache", exc=exc)
        return None
    if old is None:
        return fresh
    return old.decode() if isinstance(old, bytes) else str(old)


def _bump_now(tenant_id: int) -> None:
    with _lock:
        _tenants.pop(tenant_id, None)
    try:
        redis_client().set(_key(tenant_id), _new_generation(), ex=GENERATION_TTL_SECONDS)
    except VALKEY_ERRORS as exc:
        from tenants.base.observability import degraded

        with _lock:
            _pending_bumps.add(tenant_id)
        degraded(component="redis", feature="request_cache", exc=exc)


def request_cache_bump(*, tenant_id: int) -> None:
    """Forget everything cached for the tenant, in every process: now, and again after commit."""
    _bump_now(tenant_id)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _bump_now(tenant_id))


def request_cache_clear_local() -> None:
    """Drop this process's entries (tests, after a rolled-back transaction; settings changes)."""
    with _lock:
        _tenants.clear()


class RequestCache:
    """The cache as one request sees it: one tenant, one generation (None: bypass)."""

    __slots__ = ("generation", "tenant_id")

    def __init__(self, tenant_id: int, generation: str | None) -> None:
        self.tenant_id = tenant_id
        self.generation = generation

    def get_or_load(self, key: Any, load: Callable[[], T], *, copy: bool = False) -> T:
        """The cached value for `key`, else `load()` (stored unless it is None)."""
        if self.generation is None:
            return load()
        now = time.monotonic()
        bucket = _tenants.get(self.tenant_id)
        if bucket is not None and bucket.generation == self.generation:
            found = bucket.entries.get(key)
            if found is not None and now - found[1] < _max_age():
                return copy_module.copy(found[0]) if copy else found[0]
        value = load()
        if value is not None:
            with _lock:
                bucket = _tenants.get(self.tenant_id)
                if bucket is None or bucket.generation != self.generation:
                    if len(_tenants) >= MAX_TENANTS:
                        _tenants.clear()
                    bucket = _tenants[self.tenant_id] = _TenantEntries(self.generation)
                if len(bucket.entries) >= MAX_ENTRIES_PER_TENANT:
                    bucket.entries.clear()
                bucket.entries[key] = (value, now)
            if copy:
                return copy_module.copy(value)
        return value


_NO_TENANT = RequestCache(0, None)


def request_cache_for(request: Any) -> RequestCache:
    """The request's view of the cache (one generation read per request, memoized on it)."""
    raw = getattr(request, "_request", request)
    found = getattr(raw, "_request_cache", None)
    if found is None:
        tenant = getattr(raw, "tenant", None)
        found = _NO_TENANT if tenant is None else RequestCache(tenant.pk, generation_read(tenant_id=tenant.pk))
        raw._request_cache = found
    return found


_CLEAR_ON = frozenset({"BILLING_PLANS", "BILLING_DEFAULT_PLAN", "CACHES", "REDIS_URL", "API_REQUEST_CACHE_SECONDS"})


@receiver(setting_changed, dispatch_uid="tenants-request-cache-settings")
def _settings_changed(setting: str, **_: Any) -> None:
    if setting in _CLEAR_ON:
        request_cache_clear_local()
