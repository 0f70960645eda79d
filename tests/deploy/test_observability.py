"""Request ids, JSON log context, /metrics and the worker heartbeat in /healthz."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from celery import shared_task
from django.conf import settings
from django.test import Client, override_settings
from pythonjsonlogger.json import JsonFormatter

from tenants.base.observability import (
    HEARTBEAT_KEY,
    ContextFilter,
    _metrics_key,
    current_request_id,
    log_context,
    worker_heartbeat,
)
from tenants.base.redis import redis_client
from tests.support.clients import tenant_client

pytestmark = pytest.mark.django_db
TOKEN = "metrics-test-token-0123456789"


def public_client() -> Client:
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The production JSON formatter and context filter, on a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatters: dict[str, dict[str, Any]] = settings.LOGGING["formatters"]  # type: ignore[assignment]
    options = {k: v for k, v in formatters["json"].items() if k != "()"}
    options["fmt"] = options.pop("format")  # what logging.config.dictConfig does for "()" formatters
    handler.setFormatter(JsonFormatter(**options))
    handler.addFilter(ContextFilter())
    loggers = [logging.getLogger("tenantry.request"), logging.getLogger("tests.deploy")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    yield stream
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def _records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
def no_heartbeat() -> Iterator[None]:
    redis_client().delete(_metrics_key(HEARTBEAT_KEY))
    yield
    redis_client().delete(_metrics_key(HEARTBEAT_KEY))


@pytest.fixture
def isolated_heartbeat() -> Iterator[None]:
    """No heartbeat under a key prefix of this test's own: a worker started by another test (its
    heartbeat thread writes every few seconds) cannot make it fresh."""
    import uuid

    caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"tenantry-test-{uuid.uuid4().hex[:8]}"}}
    with override_settings(CACHES=caches):
        yield
        redis_client().delete(_metrics_key(HEARTBEAT_KEY))


# --- request ids ---------------------------------------------------------------------------------


def test_valid_request_id_is_kept_and_echoed(tenant_a) -> None:
    response = tenant_client(tenant_a).get("/login/", HTTP_X_REQUEST_ID="req-1234.abcd:ef")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-1234.abcd:ef"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 200, "<script>", "-leading-dash", "é"])
def test_invalid_request_id_is_replaced(tenant_a, bad: str) -> None:
    response = tenant_client(tenant_a).get("/login/", HTTP_X_REQUEST_ID=bad)
    generated = response["X-Request-ID"]
    assert generated != bad
    assert len(generated) == 32
    assert int(generated, 16) >= 0


def test_each_request_gets_its_own_id_and_none_leaks_after(tenant_a) -> None:
    client = tenant_client(tenant_a)
    first, second = client.get("/login/")["X-Request-ID"], client.get("/login/")["X-Request-ID"]
    assert first != second
    assert current_request_id() is None


# --- JSON logs -----------------------------------------------------------------------------------


def test_access_log_is_json_with_request_tenant_and_user(tenant_a, owner_a, json_log) -> None:
    client = tenant_client(tenant_a, owner_a)
    client.get("/login/", HTTP_X_REQUEST_ID="trace-abc-123")
    record = next(r for r in _records(json_log) if r.get("request_id") == "trace-abc-123")
    assert record["message"] == "request"
    assert record["logger"] == "tenantry.request"
    assert record["level"] == "INFO"
    assert record["tenant"] == tenant_a.slug
    assert record["status"] == 200
    assert record["method"] == "GET"
    assert record["path"] == "/login/"
    assert isinstance(record["duration_ms"], float)
    assert "time" in record


def test_log_context_adds_webhook_event_id(json_log) -> None:
    log = logging.getLogger("tests.deploy")
    with log_context(webhook_event_id="evt_123"):
        log.info("processing")
    log.info("after")
    processing, after = _records(json_log)[-2:]
    assert processing["webhook_event_id"] == "evt_123"
    assert after["webhook_event_id"] is None


@shared_task(name="tests.deploy.log_inside_task")
def log_inside_task() -> None:
    logging.getLogger("tests.deploy").info("inside task")


def test_task_id_is_in_log_records(json_log) -> None:
    result = log_inside_task.apply()
    record = next(r for r in _records(json_log) if r["message"] == "inside task")
    assert record["task_id"] == result.id


# --- /metrics ------------------------------------------------------------------------------------


def test_metrics_disabled_without_token() -> None:
    with override_settings(METRICS_TOKEN=""):
        assert public_client().get("/metrics").status_code == 404


@override_settings(METRICS_TOKEN=TOKEN)
def test_metrics_require_the_bearer_token() -> None:
    assert public_client().get("/metrics").status_code == 401
    assert public_client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert public_client().get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 401


@override_settings(METRICS_TOKEN=TOKEN)
def test_metrics_prometheus_text(tenant_a) -> None:
    redis_client().delete(_metrics_key("http_requests"))
    tenant_client(tenant_a).get("/login/")
    tenant_client(tenant_a).get("/nope-404")
    response = public_client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert 'tenantry_http_requests_total{status_class="2xx"} 1.0' in body
    assert 'tenantry_http_requests_total{status_class="4xx"} 1.0' in body
    assert 'tenantry_tenants{status="' in body
    assert "tenantry_worker_heartbeat_age_seconds" in body
    assert "# TYPE tenantry_celery_task_failures_total counter" in body


@override_settings(METRICS_TOKEN=TOKEN)
def test_task_failures_are_counted() -> None:
    @shared_task(name="tests.deploy.always_fails")
    def always_fails() -> None:
        raise RuntimeError("boom")

    redis_client().delete(_metrics_key("celery_task_failures"))
    always_fails.apply()
    body = public_client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert 'tenantry_celery_task_failures_total{task="tests.deploy.always_fails"} 1.0' in body


# --- /healthz ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("isolated_heartbeat")
def test_healthz_reports_worker_without_failing() -> None:
    response = Client().get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["broker"]["ok"]
    assert body["checks"]["worker"] == {"ok": False, "error": "no_heartbeat"}

    worker_heartbeat.apply()
    body = Client().get("/healthz", HTTP_HOST="10.1.2.3").json()
    assert body["checks"]["worker"]["ok"] is True
    assert body["checks"]["worker"]["age_s"] < 5


@pytest.mark.usefixtures("isolated_heartbeat")
def test_stale_heartbeat_is_not_ok_but_still_200() -> None:
    import time

    redis_client().set(_metrics_key(HEARTBEAT_KEY), repr(time.time() - 3600))
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["worker"]["ok"] is False


def test_liveness_checks_only_the_process() -> None:
    response = Client().get("/healthz?live=1", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_heartbeat_is_scheduled_by_beat() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE["observability-worker-heartbeat"]
    assert schedule["task"] == worker_heartbeat.name
    assert schedule["schedule"] < settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS


@pytest.mark.usefixtures("celery_worker_process", "no_heartbeat")
@pytest.mark.worker
def test_real_worker_runs_the_heartbeat(wait_until) -> None:
    worker_heartbeat.delay()
    wait_until(lambda: Client().get("/healthz").json()["checks"]["worker"]["ok"])


@shared_task(name="webhooks.tests_log_event")
def webhook_like_task(event_id: int) -> None:  # noqa: ARG001 - the log context reads it from the task kwargs
    logging.getLogger("tests.deploy").info("processing webhook")


def test_webhook_tasks_log_their_event_id(json_log) -> None:
    webhook_like_task.apply(kwargs={"event_id": 42})
    logging.getLogger("tests.deploy").info("afterwards")
    during, after = _records(json_log)[-2:]
    assert during["webhook_event_id"] == "42"
    assert during["task_id"]
    assert after["webhook_event_id"] is None
