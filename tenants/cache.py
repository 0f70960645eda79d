"""The Django cache backend: Valkey with schema-scoped keys, short timeouts and a circuit breaker.

* Cache keys carry the active schema, so one tenant can never read another tenant's cached values.
* `ValkeyCache` is Django's RedisCache with the request-path connection options of tenants.base.redis
  (tens of milliseconds, no retries) and the "cache" circuit breaker: while Valkey is down, every
  cache call raises `tenants.base.redis.ValkeyUnavailable` at once. It does not swallow errors: each
  caller decides its own fallback (resolution keeps its map, throttles let the request through).
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.db import connection

from tenants.base.redis import GuardedRedis, connection_options


def make_key(key: str, key_prefix: str, version: int | str) -> str:
    schema = getattr(connection, "schema_name", None) or "public"
    return f"{key_prefix}:{version}:{schema}:{key}"


def public_key(key: str) -> str:
    """The full key `key` has in the public schema (what `make_key` gives there), whatever the
    connection's schema: for the Django cache backend's raw client (`cache._cache.get(full_key)`)."""
    from django.core.cache import cache

    return f"{cache.key_prefix}:{cache.version}:public:{key}"  # make_key's format, schema "public"


class _CacheRedis(GuardedRedis):
    breaker_name = "cache"


class _GuardedCacheClient(RedisCacheClient):
    def __init__(self, servers: Any, **options: Any) -> None:
        super().__init__(servers, **{**connection_options(), **options})
        self._client = _CacheRedis


class ValkeyCache(RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _GuardedCacheClient
