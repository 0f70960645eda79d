"""Host -> tenant resolution with a two-level cache, so a warm request spends no query on it.

Level 1 is a small per-process map (host -> tenant snapshot or "unknown"). Each entry is trusted
for TENANT_RESOLUTION_RECHECK_SECONDS; after that the process compares a shared generation counter
kept in the cache backend (one Redis GET, no database query). Any change to a Tenant or Domain row
bumps that counter (see tenants.cache_invalidation), so every process drops its map on its next
check, and the process that made the change drops it at once.

When Valkey is unavailable (tenants.base.redis: fails in tens of milliseconds, then a circuit breaker
skips it), resolution keeps serving from its map and falls back to the database: an entry is then
trusted for TENANT_RESOLUTION_FALLBACK_SECONDS and re-read from PostgreSQL after that, an unknown
host is read from PostgreSQL, and the whole map is dropped once Valkey answers again (changes made
during the outage could not bump the counter). Saving a Tenant or Domain during an outage still
works; other processes see the change within TENANT_RESOLUTION_FALLBACK_SECONDS.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models.base import ModelState
from django_tenants.utils import schema_context

from tenants.base.redis import VALKEY_ERRORS
from tenants.cache import public_key
from tenants.models import Domain, Tenant

_MAX_ENTRIES = 10_000  # a bound on the per-process host cache

GENERATION_KEY = "tenants:resolution:generation"
_UNKNOWN = object()


@dataclass
class _Entry:
    value: object  # a Tenant, or _UNKNOWN
    generation: int
    loaded_at: float = 0.0


class _ResolutionCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._generation: int | None = None
        self._checked_at = 0.0
        self._degraded = False  # the last generation check could not reach the cache

    def _current_generation(self, now: float) -> tuple[int, bool]:
        """(generation, trusted): trusted is False while the shared counter cannot be read."""
        recheck = settings.TENANT_RESOLUTION_RECHECK_SECONDS
        if self._generation is None or now - self._checked_at >= recheck:
            try:
                # The public schema's key, read without switching the connection to `public` and
                # back: a switch costs the next query a `SET search_path` round trip and clears the
                # ContentType cache (issue 17: one such request a second per process).
                generation = cache._cache.get(public_key(GENERATION_KEY), None)  # type: ignore[attr-defined]
            except VALKEY_ERRORS as exc:
                from tenants.base.observability import degraded

                degraded(component="cache", feature="tenant_resolution", exc=exc)
                with self._lock:
                    if self._generation is None:
                        self._generation = -1  # no counter known yet: entries live by age alone
                    self._degraded = True
                    self._checked_at = now
                return self._generation, False
            if generation is None:
                generation = 0
            with self._lock:
                if generation != self._generation or self._degraded:
                    # Changed elsewhere, or back from an outage during which changes went unannounced.
                    self._entries.clear()
                    self._generation = int(generation)
                self._degraded = False
                self._checked_at = now
        assert self._generation is not None
        return self._generation, not self._degraded

    def lookup(self, host: str) -> Tenant | None:
        now = time.monotonic()
        generation, trusted = self._current_generation(now)
        entry = self._entries.get(host)
        if (
            entry is None
            or entry.generation != generation
            or (not trusted and now - entry.loaded_at >= settings.TENANT_RESOLUTION_FALLBACK_SECONDS)
        ):
            tenant = _load_tenant(host)
            entry = _Entry(value=tenant if tenant is not None else _UNKNOWN, generation=generation, loaded_at=now)
            with self._lock:
                if len(self._entries) > _MAX_ENTRIES:
                    self._entries.clear()
                self._entries[host] = entry
        if entry.value is _UNKNOWN:
            return None
        # A copy per request: nothing a request does to its tenant object leaks into the cache.
        return _copy(entry.value)  # type: ignore[arg-type]

    def invalidate_local(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation = None


_cache = _ResolutionCache()


def _copy(tenant: Tenant) -> Tenant:
    """What `copy.copy` gives for a model (its attributes, its own model state and related-object
    cache), built directly instead of through the pickle protocol (`__reduce_ex__`, `__getstate__`,
    `model_unpickle`): a few microseconds instead of 20-35 on every tenant request (issue 17)."""
    attrs = tenant.__dict__.copy()
    old = attrs["_state"]
    state = ModelState()
    state.db, state.adding = old.db, old.adding
    state.fields_cache = dict(old.fields_cache)
    attrs["_state"] = state
    clone = tenant.__class__.__new__(tenant.__class__)
    clone.__dict__.update(attrs)
    return clone


def _load_tenant(host: str) -> Tenant | None:
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    return domain.tenant if domain is not None else None


def tenant_for_host(*, host: str) -> Tenant | None:
    """The tenant serving `host`, or None for an unknown host. Zero queries when warm."""
    return _cache.lookup(host.lower())


def resolution_cache_forget_local() -> None:
    """Forget this process's cached resolutions (nothing shared): the next lookup of each host reads
    the database. For a process that has just learnt, first hand, that a routing row changed."""
    _cache.invalidate_local()


def resolution_cache_invalidate() -> None:
    """Forget every cached resolution, in this process now and in every other process on its next check."""
    _cache.invalidate_local()
    try:
        with schema_context(settings.PUBLIC_SCHEMA_NAME):
            try:
                cache.incr(GENERATION_KEY)
            except ValueError:
                cache.set(GENERATION_KEY, 1, timeout=None)
    except VALKEY_ERRORS as exc:
        # The change is saved; other processes pick it up from the database within
        # TENANT_RESOLUTION_FALLBACK_SECONDS, or all at once when Valkey answers again.
        from tenants.base.observability import degraded

        degraded(component="cache", feature="tenant_resolution", exc=exc)
