"""GET /healthz on any host: alive, ready, degraded.

* `/healthz?live=1` (liveness) checks nothing but the process: `{"status": "ok"}`, always 200.
* `/healthz` (readiness) checks every dependency and answers
  - 200 `{"status": "ok"}` when all checks pass;
  - 200 `{"status": "degraded", "failing": [...]}` when requests can be served but something is
    down: Valkey (`broker`, `cache`: the organizations keep working without them, see
    tenants.base.redis), no live worker (`worker`), or beat not scheduling (`beat`);
  - 503 `{"status": "unavailable", "failing": ["database", ...]}` only when requests cannot be
    served: the database is down.
  `checks` keeps one entry per component: `{"ok": true, "ms": ...}` or
  `{"ok": false, "error": ...}` (`"circuit_open": true` when Valkey was not tried again because
  it failed less than VALKEY_BREAKER_SECONDS ago); heartbeat checks carry `age_s`.
  A Valkey blip must not pull every web pod out of the load balancer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from tenants.base.redis import VALKEY_ERRORS, ValkeyUnavailable, redis_client

# Checks whose failure makes the answer 503; every other failing check only makes it "degraded".
REQUIRED = ("database",)


def _failure(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ValkeyUnavailable):
        # Not tried again yet (circuit breaker): name the failure that opened it.
        return {"ok": False, "error": exc.cause or type(exc).__name__, "circuit_open": True}
    return {"ok": False, "error": type(exc).__name__}


def _check(fn: Callable[[], object]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:
        return _failure(exc)
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}


def _db() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    redis_client().ping()


def _cache() -> None:
    cache.get("healthz")


def _heartbeat(key: str, max_age: float) -> dict[str, Any]:
    from tenants.base.observability import heartbeat_age

    try:
        age = heartbeat_age(key)
    except VALKEY_ERRORS as exc:
        return _failure(exc)
    if age is None:
        return {"ok": False, "error": "no_heartbeat"}
    return {"ok": age <= max_age, "age_s": round(age, 1)}


def health_checks() -> dict[str, dict[str, Any]]:
    from tenants.base.observability import BEAT_HEARTBEAT_KEY, HEARTBEAT_KEY

    checks = {"database": _check(_db), "broker": _check(_broker), "cache": _check(_cache)}
    checks["worker"] = _heartbeat(HEARTBEAT_KEY, settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS)
    checks["beat"] = _heartbeat(BEAT_HEARTBEAT_KEY, settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS)
    return checks


def healthz(request: HttpRequest) -> JsonResponse:
    if request.GET.get("live"):
        # Liveness: the process serves requests. Dependencies are readiness's concern.
        return JsonResponse({"status": "ok"})
    checks = health_checks()
    failing = [name for name, check in checks.items() if not check["ok"]]
    if any(name in REQUIRED for name in failing):
        status, code = "unavailable", 503
    else:
        status, code = ("degraded" if failing else "ok"), 200
    return JsonResponse({"status": status, "failing": failing, "checks": checks}, status=code)
