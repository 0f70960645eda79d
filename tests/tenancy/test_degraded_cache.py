"""Valkey down must not take the organizations down (issue 10, point 1).

The suite's own Valkey keeps running (other tests share it). Instead the app is pointed, through
settings overrides that reset every cached client, at a Valkey that refuses connections (a closed
port) or at a black hole (a socket that accepts connections and never answers). Both the Django
cache and the redis-py client follow REDIS_URL/CACHES, so every Valkey call on the request path
(resolution, throttles, metering, metrics) meets the fault.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from billing.usage import usage_flush, usage_pending
from shared_apps.accounts.models import User
from tenant_apps.projects.models import Project
from tenants.base.observability import metrics_flush
from tenants.base.redis import ValkeyUnavailable, redis_client
from tenants.models import Tenant, TenantStatus
from tests.factories import TEST_PASSWORD
from tests.support.api import Api
from tests.support.clients import tenant_client

pytestmark = pytest.mark.django_db
TOKEN = "metrics-test-token-degraded-0123456789"
# Generous for a loaded CI machine; a request that waited for Valkey's default timeouts (or forever,
# as the Django cache did against a black hole) takes seconds.
FAST = 1.0
# What an unreachable Valkey raises (what the breaker counts, tenants.base.redis._TRIPPING_ERRORS).
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError)
# The production defaults (config/settings/base.py); the test settings are more generous for the
# healthy suite on a loaded machine.
PRODUCTION_TIMEOUTS = {"VALKEY_SOCKET_TIMEOUT_SECONDS": 0.05, "VALKEY_CONNECT_TIMEOUT_SECONDS": 0.05}


class BlackHole:
    """Accepts TCP connections and never answers; drops each after `hold` seconds (so that code
    without timeouts fails within the test instead of hanging it)."""

    def __init__(self, hold: float = 4.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.hold = hold
        self.accepted = 0
        self._held: list[tuple[socket.socket, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = self.sock.accept()
                self.accepted += 1
                self._held.append((conn, time.monotonic()))
            now = time.monotonic()
            for item in [h for h in self._held if now - h[1] > self.hold]:
                item[0].close()
                self._held.remove(item)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn, _ in self._held:
            conn.close()
        self.sock.close()


def _closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more: connections are refused
    return port


@contextlib.contextmanager
def valkey_at(url: str) -> Iterator[None]:
    """Point the Django cache and the redis-py client at `url` (clients and breakers are reset on
    entry and exit by tenants.base.redis's setting_changed receiver and Django's cache handler)."""
    caches = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    with override_settings(REDIS_URL=url, CACHES=caches, **PRODUCTION_TIMEOUTS):
        yield


@pytest.fixture(params=["refused", "black_hole"])
def dead_valkey(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Valkey URL that is down in one of two ways; the real one is restored afterwards."""
    hole = None
    if request.param == "refused":
        url = f"redis://127.0.0.1:{_closed_port()}/0"
    else:
        hole = BlackHole()
        url = f"redis://127.0.0.1:{hole.port}/0"
    try:
        yield url
    finally:
        if hole is not None:
            hole.close()
        # Counts kept in memory during the fault go to the real Valkey, not into the next test.
        metrics_flush()
        usage_flush()


@pytest.fixture(autouse=True)
def _plan_with_a_request_budget(settings: Any) -> Iterator[None]:
    """A plan with a (high) request budget, so that the API throttles do consult Valkey."""
    settings.BILLING_PLANS = {
        **settings.BILLING_PLANS,
        "test": {"name": "Test", "limits": {"seats": None, "projects": None, "api_rpm": 100_000}, "features": []},
    }
    settings.BILLING_DEFAULT_PLAN = "test"
    yield
    for key in redis_client().scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*api-throttle*"):
        redis_client().delete(key)


def signed_in_portal(tenant: Tenant) -> Client:
    """Signs the owner in through the portal's own sign-in form (while Valkey is healthy)."""
    client = Client(HTTP_HOST=f"{tenant.slug}.{settings.TENANT_BASE_DOMAIN}")
    response = client.post("/login/", {"email": f"owner@{tenant.slug}.test", "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content
    return client


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    response = fn(*args, **kwargs)
    return response, time.perf_counter() - started


def _metric(body: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = f"{name}{{{label_text}}}" if labels else name
    match = re.search(rf"^{re.escape(series)} (\S+)$", body, re.MULTILINE)
    if match is None:
        return 0.0 if labels else -1.0  # a labelled counter not yet incremented; a missing gauge
    return float(match.group(1))


def _metrics_body() -> str:
    with override_settings(METRICS_TOKEN=TOKEN):
        response = Client(HTTP_HOST="10.0.0.9").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode()


# --- The organizations keep working ---------------------------------------------------------------


def test_api_reads_and_writes_answer_quickly_with_valkey_down(tenant_a, tenant_b, owner_a, dead_valkey) -> None:
    owner_b = User.objects.get(email="owner@beta.test")
    api_a = Api(tenant_a, user=owner_a)
    assert api_a.get("/api/v1/projects/").status_code == 200  # warm: resolution map, content types
    timings = []
    with valkey_at(dead_valkey):
        for round_ in range(3):
            response, took = _timed(api_a.get, "/api/v1/projects/")
            assert response.status_code == 200, response.content
            timings.append(took)
            response, took = _timed(api_a.post, "/api/v1/projects/", {"name": f"During outage {round_}"})
            assert response.status_code == 201, response.content
            timings.append(took)
            response, took = _timed(api_a.get, f"/api/v1/projects/{response.json()['id']}/")
            assert response.status_code == 200, response.content
            timings.append(took)
        response = Api(tenant_b, user=owner_b).post("/api/v1/projects/", {"name": "Beta during outage"})
        assert response.status_code == 201, response.content
    # Typical request fast; none waited out a socket timeout of seconds (a loaded machine can stretch one
    # request past FAST, never all of them).
    assert statistics.median(timings) < FAST, timings
    assert max(timings) < 3 * FAST, timings
    with schema_context(tenant_a.schema_name):
        assert set(Project.objects.filter(name__startswith="During outage").values_list("name", flat=True)) == {
            "During outage 0",
            "During outage 1",
            "During outage 2",
        }


@pytest.mark.usefixtures("owner_a")
def test_portal_pages_and_forms_work_for_a_signed_in_member(tenant_a, dead_valkey) -> None:
    client = signed_in_portal(tenant_a)  # the session lives in PostgreSQL
    assert client.get("/").status_code == 200
    with valkey_at(dead_valkey):
        for path in ("/", "/projects/", "/members/", "/settings/", "/tokens/", "/audit/"):
            response, took = _timed(client.get, path)
            assert response.status_code == 200, (path, response.status_code)
            assert took < FAST, (path, took)
        assert b"owner@alpha.test" in client.get("/").content  # still signed in as the same person
        # A write that saves the Tenant row: its cache invalidation cannot reach Valkey either.
        response = client.post("/settings/", {"name": "Alpha During Outage"})
        assert response.status_code == 302, response.content
        assert client.get("/settings/").status_code == 200
    assert Tenant.objects.get(pk=tenant_a.pk).name == "Alpha During Outage"


@pytest.mark.usefixtures("owner_a")
def test_a_session_survives_valkey_going_away_and_coming_back(tenant_a, settings: Any) -> None:
    settings.TENANT_RESOLUTION_RECHECK_SECONDS = 0.0  # every request consults Valkey
    client = signed_in_portal(tenant_a)
    assert client.get("/members/").status_code == 200
    with valkey_at(f"redis://127.0.0.1:{_closed_port()}/0"):
        assert client.get("/members/").status_code == 200
    # Valkey "restarted" empty: nothing the session needs was in it.
    response = client.get("/members/")
    assert response.status_code == 200
    assert b"owner@alpha.test" in response.content
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


def test_cold_process_resolves_from_the_database_and_unknown_hosts_stay_404(tenant_a, owner_a, dead_valkey) -> None:
    from tenants.resolution import _cache

    with valkey_at(dead_valkey):
        _cache.invalidate_local()  # a process that has seen no host yet
        assert Api(tenant_a, user=owner_a).get("/api/v1/projects/").status_code == 200
        response = tenant_client(tenant_a).get("/", HTTP_HOST="nobody.localhost", HTTP_ACCEPT="application/json")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_host"


def test_during_an_outage_entries_are_rechecked_in_the_database(tenant_a, owner_a, settings: Any) -> None:
    """Another process suspends the organization while Valkey is down (so the generation counter
    cannot announce it): this process sees it once its entry is older than the fallback TTL."""
    settings.TENANT_RESOLUTION_FALLBACK_SECONDS = 0.0
    settings.TENANT_RESOLUTION_RECHECK_SECONDS = 0.0
    api = Api(tenant_a, user=owner_a)
    assert api.post("/api/v1/projects/", {"name": "Before"}).status_code == 201
    with valkey_at(f"redis://127.0.0.1:{_closed_port()}/0"):
        Tenant.objects.filter(pk=tenant_a.pk).update(status=TenantStatus.SUSPENDED)  # no signals
        response = api.post("/api/v1/projects/", {"name": "Suspended"})
        assert response.status_code == 402, response.content
        assert api.get("/api/v1/projects/").status_code == 200  # read-only, still served
    with schema_context(tenant_a.schema_name):
        assert not Project.objects.filter(name="Suspended").exists()


def test_changes_made_during_an_outage_show_once_valkey_is_back(tenant_a, owner_a, settings: Any) -> None:
    settings.TENANT_RESOLUTION_FALLBACK_SECONDS = 3600.0  # the local map alone would stay stale
    settings.TENANT_RESOLUTION_RECHECK_SECONDS = 0.0
    api = Api(tenant_a, user=owner_a)
    assert api.get("/api/v1/projects/").status_code == 200
    with valkey_at(f"redis://127.0.0.1:{_closed_port()}/0"):
        assert api.get("/api/v1/projects/").status_code == 200  # resolution notices the outage
        Tenant.objects.filter(pk=tenant_a.pk).update(status=TenantStatus.SUSPENDED)
        assert api.post("/api/v1/projects/", {"name": "Stale map"}).status_code == 201  # within the TTL
    # Valkey answers again: the map is dropped because the outage may have hidden changes.
    response = api.post("/api/v1/projects/", {"name": "After"})
    assert response.status_code == 402, response.content


def test_warm_requests_still_spend_no_query_on_resolution_when_valkey_is_healthy(tenant_a) -> None:
    client = tenant_client(tenant_a)
    assert client.get("/login/").status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/login/").status_code == 200
    assert [q for q in ctx.captured_queries if "tenants_domain" in q["sql"] or "tenants_tenant" in q["sql"]] == []


# --- Degradation is visible: metrics and rate-limited logs ----------------------------------------


def test_throttles_and_metering_are_counted_as_degraded_in_metrics(tenant_a, owner_a, dead_valkey) -> None:
    metrics_flush()
    before = _metrics_body()
    api = Api(tenant_a, user=owner_a)
    api.get("/api/v1/projects/")
    with valkey_at(dead_valkey):
        for _ in range(5):
            assert api.get("/api/v1/projects/").status_code == 200
        during = _metrics_body()  # /metrics answers during the outage too
        assert _metric(during, "tenantry_metrics_store_up") == 0.0
        assert usage_pending(), "the usage counts wait in memory for Valkey"
    for feature, component in (("api_throttle", "cache"), ("usage_metering", "redis")):
        grown = _metric(during, "tenantry_degraded_total", component=component, feature=feature) - _metric(
            before, "tenantry_degraded_total", component=component, feature=feature
        )
        assert grown >= 5, (feature, grown)
    # Valkey is back: the first request writes the pending counts; /metrics reads them from Valkey.
    assert api.get("/api/v1/projects/").status_code == 200
    after = _metrics_body()
    assert _metric(after, "tenantry_metrics_store_up") == 1.0
    assert _metric(after, "tenantry_degraded_total", component="cache", feature="api_throttle") >= _metric(
        during, "tenantry_degraded_total", component="cache", feature="api_throttle"
    )
    assert usage_pending() == {}


def test_usage_counted_during_an_outage_is_written_when_valkey_returns(tenant_a, owner_a) -> None:
    from billing.usage import usage_current_hour

    api = Api(tenant_a, user=owner_a)
    assert api.get("/api/v1/projects/").status_code == 200
    start = usage_current_hour(tenant_a.pk)
    with valkey_at(f"redis://127.0.0.1:{_closed_port()}/0"):
        for _ in range(4):
            assert api.get("/api/v1/projects/").status_code == 200
    assert api.get("/api/v1/projects/").status_code == 200
    assert usage_current_hour(tenant_a.pk) - start == 5


def test_fallbacks_log_once_per_interval_not_per_request(tenant_a, owner_a, caplog) -> None:
    api = Api(tenant_a, user=owner_a)
    with (
        valkey_at(f"redis://127.0.0.1:{_closed_port()}/0"),
        override_settings(VALKEY_DEGRADED_LOG_INTERVAL_SECONDS=3600),
    ):
        from tenants.base import observability

        observability._degraded_logged_at.clear()
        with caplog.at_level(logging.WARNING, logger="tenantry.degraded"):
            for _ in range(20):
                assert api.get("/api/v1/projects/").status_code == 200
    metrics_flush()
    usage_flush()
    lines = [r for r in caplog.records if r.name == "tenantry.degraded"]
    features = sorted(r.feature for r in lines)
    assert features.count("api_throttle") == 1
    assert features.count("usage_metering") == 1
    assert len(lines) <= 4, [r.getMessage() for r in lines]


# --- The clients fail fast and then skip Valkey ---------------------------------------------------


def test_clients_time_out_in_tens_of_milliseconds_then_skip_a_black_hole() -> None:
    hole = BlackHole()
    try:
        with valkey_at(f"redis://127.0.0.1:{hole.port}/0"):
            for call in (lambda: cache.get("anything"), lambda: redis_client().get("anything")):
                started = time.perf_counter()
                with pytest.raises(_UNREACHABLE) as first:
                    call()
                first_took = time.perf_counter() - started
                assert "imeout" in type(first.value).__name__ or "imeout" in str(first.value)
                assert first_took < 0.5, first_took
                # The breaker is open: no network round trip, no waiting.
                started = time.perf_counter()
                with pytest.raises(ValkeyUnavailable):
                    call()
                assert time.perf_counter() - started < 0.01
            assert hole.accepted >= 2  # it really connected to the black hole (cache and client)
    finally:
        hole.close()


def test_the_breaker_tries_again_after_its_interval(settings: Any) -> None:
    settings.VALKEY_BREAKER_SECONDS = 0.2
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    with valkey_at(url):
        with pytest.raises(_UNREACHABLE) as first:
            redis_client().get("k")
        assert not isinstance(first.value, ValkeyUnavailable)  # a real attempt
        with pytest.raises(ValkeyUnavailable):
            redis_client().get("k")
        time.sleep(0.25)
        with pytest.raises(_UNREACHABLE) as again:
            redis_client().get("k")
        assert not isinstance(again.value, ValkeyUnavailable)  # half-open: tried the network again
    assert redis_client().ping() is True  # the real Valkey, with a fresh client and closed breaker


# --- /healthz: alive, ready, degraded -------------------------------------------------------------


def test_healthz_is_degraded_not_unavailable_when_valkey_is_down(dead_valkey) -> None:
    with valkey_at(dead_valkey):
        response, took = _timed(Client(HTTP_HOST="10.0.0.5").get, "/healthz")
        live = Client(HTTP_HOST="10.0.0.5").get("/healthz?live=1")
    assert took < FAST
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["cache"]["ok"] is False
    assert {"broker", "cache"} <= set(body["failing"])
    assert "database" not in body["failing"]
    assert (live.status_code, live.json()) == (200, {"status": "ok"})


def test_healthz_is_ok_when_everything_answers() -> None:
    from tenants.base.observability import worker_heartbeat

    worker_heartbeat.apply()  # as if a worker and beat had just run
    response = Client(HTTP_HOST="10.0.0.5").get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok", body
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "broker", "cache", "worker", "beat"}


def test_a_sign_in_handoff_during_an_outage_falls_back_to_the_password_form(tenant_a, owner_a) -> None:
    """The hand-off from the public host is single use, proven by a Valkey marker: without Valkey it
    cannot be proven, so the link is refused (never a 500, never a replay) and the password sign-in
    on the organization's host is offered instead."""
    from shared_apps.accounts.services import handoff_token_issue

    token = handoff_token_issue(user=owner_a, tenant_id=tenant_a.pk)
    client = Client(HTTP_HOST=f"{tenant_a.slug}.{settings.TENANT_BASE_DOMAIN}")
    with valkey_at(f"redis://127.0.0.1:{_closed_port()}/0"):
        response = client.get(f"/handoff/?token={token}")
        assert response.status_code == 302
        assert response["Location"] == "/login/"
        assert "_auth_user_id" not in client.session
        assert client.get("/login/").status_code == 200


@pytest.mark.usefixtures("owner_a")
def test_password_sign_in_works_and_stays_throttled_with_valkey_down(tenant_a, dead_valkey, settings: Any) -> None:
    """Sign-in needs no Valkey: the API token exchange and the portal form succeed during an outage,
    and failed attempts still count (they live in PostgreSQL), so guessing does not get easier."""
    settings.LOGIN_LOCKOUT_ACCOUNT_FAILURES = 2
    host = f"{tenant_a.slug}.{settings.TENANT_BASE_DOMAIN}"
    with valkey_at(dead_valkey):
        response, took = _timed(
            Client(HTTP_HOST=host).post,
            "/api/v1/auth/token/",
            {"email": "owner@alpha.test", "password": TEST_PASSWORD, "name": "outage"},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        assert took < FAST
        assert (
            Client(HTTP_HOST=host).post("/login/", {"email": "owner@alpha.test", "password": TEST_PASSWORD}).status_code
            == 302
        )
        wrong = {"email": "owner@alpha.test", "password": "not-the-password", "name": "guess"}
        for _ in range(2):
            assert (
                Client(HTTP_HOST=host).post("/api/v1/auth/token/", wrong, content_type="application/json").status_code
                == 401
            )
        locked = Client(HTTP_HOST=host).post(
            "/api/v1/auth/token/", {**wrong, "password": TEST_PASSWORD}, content_type="application/json"
        )
        assert locked.status_code == 429, locked.content
        assert int(locked["Retry-After"]) > 0
