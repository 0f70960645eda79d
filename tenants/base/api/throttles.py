"""Per-credential and per-tenant request budgets from the plan's `api_rpm` (fixed one-minute windows
counted in Valkey; cache keys carry the schema, so tenants never share a counter).

When Valkey is unavailable the budgets are not enforced: the request goes through, and the fallback
is logged (rate-limited) and counted as tenantry_degraded_total{component="cache",
feature="api_throttle"}. Refusing every API call because a counter store is down would turn a
Valkey outage into an API outage; a plan's request budget is a fairness limit, not a security one
(sign-in throttling lives in PostgreSQL).

Every API response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds
until the window ends) of the budget closest to running out, and every 429 `Retry-After` (D63).
Without Valkey, or on a plan without a request budget, the three headers are omitted.
"""

from __future__ import annotations

import time

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from typing_extensions import override

from tenants.base.api.context import client_ip_of, entitlements_of
from tenants.base.observability import degraded
from tenants.base.redis import VALKEY_ERRORS, guarded

WINDOW_SECONDS = 60


class _PlanRateThrottle(BaseThrottle):
    scope = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def limit(self, api_rpm: int) -> int:
        return api_rpm

    def ident(self, request: Request) -> str:
        raise NotImplementedError

    def key(self, request: Request, now: float) -> str:
        return f"api-throttle:{self.scope}:{self.ident(request)}:{int(now // WINDOW_SECONDS)}"

    def allow_request(self, request: Request, view: object) -> bool:
        if getattr(request._request, "tenant", None) is None:
            return True
        api_rpm = entitlements_of(request).api_rpm
        if api_rpm is None:
            return True
        now = time.time()
        key = self.key(request, now)
        try:
            count = _counts(request, view).get(key)
            if count is None:  # not one of the view's own throttles: counted alone
                count = _count_all([key])[key]
        except VALKEY_ERRORS as exc:
            degraded(component="cache", feature="api_throttle", exc=exc)
            return True
        limit = self.limit(api_rpm)
        reset = WINDOW_SECONDS - (now % WINDOW_SECONDS)
        _record(request, limit=limit, remaining=max(0, limit - count), reset=reset)
        if count > limit:
            self._wait = reset
            return False
        return True

    def peek(self, request: Request) -> None:
        """Record this budget's state without counting a request (responses refused before throttling)."""
        if getattr(request._request, "tenant", None) is None:
            return
        api_rpm = entitlements_of(request).api_rpm
        if api_rpm is None:
            return
        now = time.time()
        key = self.key(request, now)
        try:
            count = int(cache.get(key) or 0)
        except VALKEY_ERRORS as exc:
            degraded(component="cache", feature="api_throttle", exc=exc)
            return
        limit = self.limit(api_rpm)
        _record(request, limit=limit, remaining=max(0, limit - count), reset=WINDOW_SECONDS - (now % WINDOW_SECONDS))

    def wait(self) -> float | None:
        return self._wait


def _record(request: Request, *, limit: int, remaining: int, reset: float) -> None:
    raw = request._request
    current = getattr(raw, "ratelimit", None)
    if current is None or remaining < current[1]:
        raw.ratelimit = (limit, remaining, max(1, int(reset + 0.999)))  # type: ignore[attr-defined]


def ratelimit_headers(request: Request, view: object) -> dict[str, str]:
    """The headers of the budget closest to running out (after the throttles ran, or peeked now)."""
    raw = request._request
    if getattr(raw, "ratelimit", None) is None and getattr(view, "throttle_classes", None):
        for throttle in view.get_throttles():  # type: ignore[attr-defined]
            if isinstance(throttle, _PlanRateThrottle):
                try:
                    throttle.peek(request)
                except Exception:  # noqa: S112 - headers are best effort on a refused request
                    continue
    state = getattr(raw, "ratelimit", None)
    if state is None:
        return {}
    limit, remaining, reset = state
    return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining), "RateLimit-Reset": str(reset)}


def _counts(request: Request, view: object) -> dict[str, int]:
    """Count this request against every plan budget of the view in one Valkey round trip (the first
    throttle that runs counts for all of them; the others read the result). Keys are the Django
    cache's (schema-scoped), and the values plain integers, so `cache.get` reads them (`peek`)."""
    raw = request._request
    counted = getattr(raw, "_throttle_counts", None)
    if counted is None:
        now = time.time()
        throttles = view.get_throttles() if hasattr(view, "get_throttles") else []
        keys = [t.key(request, now) for t in throttles if isinstance(t, _PlanRateThrottle)]
        counted = _count_all(keys)
        raw._throttle_counts = counted  # type: ignore[attr-defined]
    return counted


def _count_all(keys: list[str]) -> dict[str, int]:
    """INCR + EXPIRE NX for each key, pipelined: one round trip for all the request's budgets."""
    if not keys:
        return {}
    full = [cache.make_key(key) for key in keys]
    pipe = cache._cache.get_client(write=True).pipeline(transaction=False)  # type: ignore[attr-defined]
    for name in full:
        pipe.incr(name)
        pipe.expire(name, WINDOW_SECONDS * 2, nx=True)
    with guarded("cache"):
        replies = pipe.execute()
    return {key: int(replies[2 * i]) for i, key in enumerate(keys)}


class CredentialRateThrottle(_PlanRateThrottle):
    """One token (or one signed-in session, or one anonymous IP) may use half the tenant's budget,
    so a single runaway script cannot starve the rest of the organization."""

    scope = "credential"

    def limit(self, api_rpm: int) -> int:
        return max(1, api_rpm // 2)

    def ident(self, request: Request) -> str:
        token = request.auth
        if token is not None and getattr(token, "pk", None) is not None:
            return f"token:{token.pk}"
        if request.user is not None and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{client_ip_of(request)}"


class TenantRateThrottle(_PlanRateThrottle):
    scope = "tenant"

    @override
    def ident(self, request: Request) -> str:
        return "all"
