"""GET /healthz on any host: database and broker state as JSON; 200 when healthy, 503 otherwise.

`worker` is informational: whether a Celery worker ran the beat-scheduled heartbeat task recently.
It never turns the answer into a 503 (a web pod must not be restarted because workers are down).
`/healthz?live=1` checks nothing but the process itself (the liveness probe).
"""

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from tenants.redis import redis_client


def _check(fn) -> dict:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}


def _db() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    redis_client().ping()


def _worker() -> dict:
    from tenants.observability import worker_heartbeat_age

    try:
        age = worker_heartbeat_age()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    if age is None:
        return {"ok": False, "error": "no_heartbeat"}
    return {"ok": age <= settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS, "age_s": round(age, 1)}


def healthz(request: HttpRequest) -> JsonResponse:
    if request.GET.get("live"):
        # Liveness: the process serves requests. Dependencies are readiness's concern.
        return JsonResponse({"status": "ok"})
    checks = {"database": _check(_db), "broker": _check(_broker)}
    healthy = all(c["ok"] for c in checks.values())
    checks["worker"] = _worker()  # informational: not part of `healthy`
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )
