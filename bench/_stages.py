"""CPU and wall time per request stage, measured inside a benchmark server (bench-only).

`instrument()` wraps the functions that make up one API request (tenant resolution, authentication,
membership, entitlements, throttles, the permission-filtered query, serialization, rendering,
metering, ...) with a clock that attributes *exclusive* time to the innermost running stage: while
`membership_get` runs inside the permission gate, its time is the membership's, not the gate's.
Everything the WSGI application spends outside a named stage (Django's middleware chain, DRF's
dispatch, URL routing) is `framework`. Time is both CPU (time.thread_time: the sync worker serves one
request at a time on one thread) and wall (time.perf_counter, which includes waiting for PostgreSQL
and Valkey).

`stages_app(app)` wraps a WSGI application so that the bench client can read and reset the totals at
`/__bench__/stages` (GET; `?reset=1` zeroes them after reading) and learn the worker's PostgreSQL
backend pid at `/__bench__/info`. Product code never imports this module.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

_lock = threading.Lock()
_cpu: dict[str, float] = {}
_wall: dict[str, float] = {}
_calls: dict[str, int] = {}
_stack: list[str] = []
_last: list[float] = [0.0, 0.0]  # thread_time, perf_counter at the last stage boundary
_requests = [0]


def _switch(now_cpu: float, now_wall: float) -> None:
    if _stack:
        top = _stack[-1]
        _cpu[top] = _cpu.get(top, 0.0) + now_cpu - _last[0]
        _wall[top] = _wall.get(top, 0.0) + now_wall - _last[1]
    _last[0], _last[1] = now_cpu, now_wall


def timed(stage: str, func: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(func, "_bench_stage", None):
        return func

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _switch(time.thread_time(), time.perf_counter())
        _stack.append(stage)
        _calls[stage] = _calls.get(stage, 0) + 1
        try:
            return func(*args, **kwargs)
        finally:
            _switch(time.thread_time(), time.perf_counter())
            _stack.pop()

    wrapper._bench_stage = stage  # type: ignore[attr-defined]
    return wrapper


# (module, attribute path, stage). A module-level function is patched where it is *looked up*
# (the caller's module), a method on its class.
STAGES: list[tuple[str, str, str]] = [
    ("tenants.middleware", "tenant_for_host", "tenancy_resolution"),
    ("tenants.middleware", "_activate", "tenancy_resolution"),
    ("tenants.middleware", "_lifecycle_gate", "tenancy_resolution"),
    ("tenants.base.observability", "metric_incr", "metrics_and_access_log"),
    ("tenant_apps.tokens.authentication", "BearerTokenAuthentication.authenticate", "authentication"),
    ("shared_apps.accounts.permissions", "membership_get", "membership"),
    ("shared_apps.accounts.permissions", "IsTenantMember.has_permission", "permission_gate"),
    ("tenants.base.api.views", "scopes_check", "permission_gate"),
    ("tenants.base.api.context", "entitlements_for_tenant", "entitlements"),
    ("tenants.base.api.throttles", "_PlanRateThrottle.allow_request", "throttles"),
    ("tenants.base.api.throttles", "ratelimit_headers", "throttles"),
    ("tenants.base.api.pagination", "ApiPagination.paginate_queryset", "permission_query"),
    ("rest_framework.generics", "GenericAPIView.filter_queryset", "filtering"),
    ("rest_framework.serializers", "ListSerializer.to_representation", "serialization"),
    ("tenants.base.api.pagination", "ApiPagination.get_paginated_response", "serialization"),
    ("rest_framework.renderers", "JSONRenderer.render", "rendering"),
    ("billing.middleware", "usage_increment", "metering"),
    # DRF's dispatch around the named stages: request wrapping, content negotiation, finalize_response.
    ("rest_framework.views", "APIView.dispatch", "drf_view"),
]


def instrument(extra: Iterable[tuple[str, str, str]] = ()) -> list[str]:
    """Patch every stage that exists in this code base; returns the ones not found (renamed code)."""
    missing = []
    for module_name, attr_path, stage in [*STAGES, *extra]:
        try:
            owner: Any = importlib.import_module(module_name)
            *parents, attr = attr_path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        except (ImportError, AttributeError, KeyError):
            missing.append(f"{module_name}.{attr_path}")
            continue
        setattr(owner, attr, timed(stage, original))
    return missing


def snapshot(reset: bool) -> dict[str, Any]:
    with _lock:
        out = {
            "requests": _requests[0],
            "cpu_s": dict(_cpu),
            "wall_s": dict(_wall),
            "calls": dict(_calls),
        }
        if reset:
            _cpu.clear()
            _wall.clear()
            _calls.clear()
            _requests[0] = 0
    return out


_profiler: Any = None


def profile_dump(path: str) -> None:
    if _profiler is not None:
        _profiler.dump_stats(path)


def stages_app(app: Callable[..., Any], *, stages: bool) -> Callable[..., Any]:
    """The WSGI app with the bench endpoints; with `stages`, every request is timed as `framework`
    plus the named stages inside it."""
    global _profiler
    total = timed("framework", app) if stages else app
    if os.environ.get("BENCH_CPROFILE"):  # development aid: cProfile every request, dump on /stages
        import cProfile

        _profiler = cProfile.Profile()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__bench__/"):
            if path == "/__bench__/stages":
                body = snapshot(reset="reset=1" in environ.get("QUERY_STRING", ""))
                if _profiler is not None:
                    profile_dump(os.environ["BENCH_CPROFILE"])
                    _profiler.clear()
            else:
                from django.db import connection

                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    (backend,) = cursor.fetchone()
                body = {"worker_pid": os.getpid(), "pg_backend_pid": backend}
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        if stages:
            _requests[0] += 1
        if _profiler is not None:
            _profiler.enable()
            try:
                return total(environ, start_response)
            finally:
                _profiler.disable()
        return total(environ, start_response)

    return application
