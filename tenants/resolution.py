"""Host -> tenant resolution with a two-level cache, so a warm request spends no query on it.

Level 1 is a small per-process map (host -> tenant snapshot or "unknown"). Each entry is trusted
for TENANT_RESOLUTION_RECHECK_SECONDS; after that the process compares a shared generation counter
kept in the cache backend (one Redis GET, no database query). Any change to a Tenant or Domain row
bumps that counter (see tenants.cache_invalidation), so every process drops its map on its next
check, and the process that made the change drops it at once.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django_tenants.utils import schema_context

from tenants.models import Domain, Tenant

GENERATION_KEY = "tenants:resolution:generation"
_UNKNOWN = object()


@dataclass
class _Entry:
    value: object  # a Tenant, or _UNKNOWN
    generation: int


class _ResolutionCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._generation: int | None = None
        self._checked_at = 0.0

    def _current_generation(self) -> int:
        now = time.monotonic()
        recheck = settings.TENANT_RESOLUTION_RECHECK_SECONDS
        if self._generation is None or now - self._checked_at >= recheck:
            with schema_context(settings.PUBLIC_SCHEMA_NAME):
                generation = cache.get(GENERATION_KEY)
            if generation is None:
                generation = 0
            with self._lock:
                if generation != self._generation:
                    self._entries.clear()
                    self._generation = int(generation)
                self._checked_at = now
        assert self._generation is not None
        return self._generation

    def lookup(self, host: str) -> Tenant | None:
        generation = self._current_generation()
        entry = self._entries.get(host)
        if entry is None or entry.generation != generation:
            tenant = _load_tenant(host)
            entry = _Entry(value=tenant if tenant is not None else _UNKNOWN, generation=generation)
            with self._lock:
                if len(self._entries) > 10_000:
                    self._entries.clear()
                self._entries[host] = entry
        if entry.value is _UNKNOWN:
            return None
        # A copy per request: nothing a request does to its tenant object leaks into the cache.
        return copy.copy(entry.value)  # type: ignore[return-value]

    def invalidate_local(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation = None


_cache = _ResolutionCache()


def _load_tenant(host: str) -> Tenant | None:
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    return domain.tenant if domain is not None else None


def tenant_for_host(*, host: str) -> Tenant | None:
    """The tenant serving `host`, or None for an unknown host. Zero queries when warm."""
    return _cache.lookup(host.lower())


def resolution_cache_invalidate() -> None:
    """Forget every cached resolution, in this process now and in every other process on its next check."""
    _cache.invalidate_local()
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:
            cache.set(GENERATION_KEY, 1, timeout=None)
