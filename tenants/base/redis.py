"""Valkey clients for the request path: short timeouts, no retries, and a circuit breaker.

Everything a request reads or writes in Valkey (the resolution generation counter, API throttle
counters, usage metering, metrics counters) is an optimisation or a best-effort count: PostgreSQL
holds everything a request needs. So a Valkey that is stopped, unreachable or slow must cost a
request tens of milliseconds at most, once, and then nothing while it stays down:

* every socket has VALKEY_SOCKET_TIMEOUT_SECONDS / VALKEY_CONNECT_TIMEOUT_SECONDS (default 50 ms),
  and redis-py's own retries (10 by default since redis-py 6, with backoff) are off;
* a failed connection or a timeout opens the breaker of that client ("redis" for `redis_client()`,
  "cache" for the Django cache) for VALKEY_BREAKER_SECONDS: until then every command raises
  `ValkeyUnavailable` at once, without touching the network. The first command after that tries
  again (half-open); success closes the breaker.

Callers catch `VALKEY_ERRORS` where a fallback exists (see tenants.resolution,
tenants.base.api.throttles, billing.usage, tenants.base.observability) and report it with
`tenants.base.observability.degraded()`.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.backoff import NoBackoff
from redis.retry import Retry


class ValkeyUnavailable(redis.ConnectionError):
    """Raised without any I/O while a client's circuit breaker is open. `cause` names the error that
    opened it (e.g. "TimeoutError", "ConnectionError")."""

    cause: str | None = None


# What a caller with a fallback catches: any Valkey failure (a refused or lost connection, a timeout,
# an open breaker, a server still loading its data set, a read-only replica...).
VALKEY_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
# What opens the breaker: the server cannot be reached or does not answer in time.
_TRIPPING_ERRORS: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError, OSError)


def never_sent(exc: BaseException) -> bool:
    """True when the failed call certainly did not reach Valkey (open breaker, failed connect), so
    repeating it cannot apply it twice. A timeout or lost connection mid-command is ambiguous."""
    if isinstance(exc, ValkeyUnavailable):
        return True
    return isinstance(exc, redis.ConnectionError | redis.TimeoutError) and "connecting" in str(exc)


class CircuitBreaker:
    """Per-process breaker for one Valkey client. Thread safe enough: a float written atomically."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._open_until = 0.0
        self.last_failure: str | None = None

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def check(self) -> None:
        if time.monotonic() < self._open_until:
            exc = ValkeyUnavailable(f"valkey ({self.name}) unavailable: circuit open after {self.last_failure}")
            exc.cause = self.last_failure
            raise exc

    def failure(self, exc: BaseException) -> None:
        self.last_failure = type(exc).__name__
        self._open_until = time.monotonic() + float(settings.VALKEY_BREAKER_SECONDS)

    def success(self) -> None:
        if self._open_until:
            self._open_until = 0.0

    def reset(self) -> None:
        self._open_until = 0.0
        self.last_failure = None


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker(name: str) -> CircuitBreaker:
    found = _breakers.get(name)
    if found is None:
        with _breakers_lock:
            found = _breakers.setdefault(name, CircuitBreaker(name))
    return found


class GuardedRedis(redis.Redis):
    """redis.Redis whose commands go through a circuit breaker (pipelines: use `guarded()`)."""

    breaker_name = "redis"

    def execute_command(self, *args: Any, **options: Any) -> Any:
        guard = breaker(self.breaker_name)
        guard.check()
        try:
            result = super().execute_command(*args, **options)
        except _TRIPPING_ERRORS as exc:
            guard.failure(exc)
            raise
        guard.success()
        return result


class guarded:
    """Run a block of Valkey calls (e.g. a pipeline's execute) through a client's breaker."""

    def __init__(self, name: str = "redis") -> None:
        self._breaker = breaker(name)

    def __enter__(self) -> None:
        self._breaker.check()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self._breaker.success()
        elif isinstance(exc, _TRIPPING_ERRORS) and not isinstance(exc, ValkeyUnavailable):
            self._breaker.failure(exc)


def connection_options() -> dict[str, Any]:
    """Socket options for every request-path Valkey connection (redis-py and the Django cache)."""
    return {
        "socket_timeout": float(settings.VALKEY_SOCKET_TIMEOUT_SECONDS),
        "socket_connect_timeout": float(settings.VALKEY_CONNECT_TIMEOUT_SECONDS),
        # One attempt: the breaker, not a retry loop, decides when to try again.
        "retry": Retry(NoBackoff(), 0),
        "retry_on_error": [],
        # A connection idle in the pool across a Valkey restart is checked before use.
        "health_check_interval": 30,
    }


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    """One shared client per process, for locks and counters the Django cache API lacks."""
    return GuardedRedis.from_url(settings.REDIS_URL, **connection_options())


def valkey_clients_reset() -> None:
    """Forget the shared client and every breaker (tests that re-point REDIS_URL or CACHES)."""
    if redis_client.cache_info().currsize:
        redis_client().close()
    redis_client.cache_clear()
    for item in list(_breakers.values()):
        item.reset()


_RESET_ON = frozenset(
    {
        "REDIS_URL",
        "CACHES",
        "VALKEY_SOCKET_TIMEOUT_SECONDS",
        "VALKEY_CONNECT_TIMEOUT_SECONDS",
        "VALKEY_BREAKER_SECONDS",
    }
)


@receiver(setting_changed, dispatch_uid="tenants-redis-settings")
def _settings_changed(setting: str, **_: Any) -> None:
    if setting in _RESET_ON:
        valkey_clients_reset()
