"""Request ids, log context, metrics and the worker heartbeat.

* `RequestContextMiddleware` (right after tenant resolution): takes a valid `X-Request-ID` or makes
  one, echoes it in the response, binds it (with the tenant and user) to the log context, counts the
  response by status class and writes one access log line.
* `ContextFilter` puts `request_id`, `tenant`, `user_id`, `task_id` and `webhook_event_id` on every
  log record; the JSON formatter (python-json-logger, LOG_FORMAT=json) emits them as fields.
* `log_context(webhook_event_id=...)` binds extra fields for a block (webhook processing, jobs).
* `current_request_id()` for code that records the request id (audit events).
* `metrics_view`: Prometheus text format behind `Authorization: Bearer <METRICS_TOKEN>`. Counters
  live in Redis hashes, so every web and worker process adds to the same numbers.
* `worker_heartbeat`: a beat-scheduled task; a worker running it proves beat → broker → worker
  works. /healthz reports its age as an informational check.
"""

from __future__ import annotations

import contextlib
import contextvars
import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from celery import shared_task
from celery.signals import task_failure, task_postrun, task_prerun
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import empty

logger = logging.getLogger("tenantry.request")

REQUEST_ID_HEADER = "X-Request-ID"
# Accept what proxies and clients commonly send (UUIDs, hex, trace ids); anything else is replaced.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("request", default=None)
_fields: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_fields", default={})  # noqa: B039

CONTEXT_FIELDS = ("request_id", "tenant", "user_id", "task_id", "webhook_event_id")


def current_request_id() -> str | None:
    """The id of the request being served by this thread/task context, or None outside a request."""
    return _request_id.get()


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (e.g. webhook_event_id=...) to every log record emitted inside the block."""
    token = _fields.set({**_fields.get(), **fields})
    try:
        yield
    finally:
        _fields.reset(token)


def valid_request_id(value: str | None) -> str:
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


# --- Logging -------------------------------------------------------------------------------------


def _tenant_label(request: HttpRequest | None) -> str | None:
    tenant = getattr(request, "tenant", None) if request is not None else None
    if tenant is not None:
        return getattr(tenant, "slug", None) or tenant.schema_name
    try:
        from django.db import connection

        return connection.schema_name  # type: ignore[attr-defined]
    except Exception:
        return None


def _user_id(request: HttpRequest | None) -> Any:
    if request is None:
        return None
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None  # not resolved yet: never trigger a query from a log call
    return user.pk if getattr(user, "is_authenticated", False) else None


def _task_id() -> str | None:
    try:
        from celery import current_task

        return current_task.request.id if current_task else None
    except Exception:
        return None


class ContextFilter(logging.Filter):
    """Adds the request/tenant/user/task/webhook context to every record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request.get()
        extra = _fields.get()
        values = {
            "request_id": _request_id.get(),
            "tenant": _tenant_label(request),
            "user_id": _user_id(request),
            "task_id": _task_id(),
            "webhook_event_id": None,
            **extra,
        }
        for key, value in values.items():
            if not hasattr(record, key) or getattr(record, key) is None:
                setattr(record, key, value)
        return True


# --- Metrics storage -----------------------------------------------------------------------------


def _metrics_key(name: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'tenantry')}:metrics:{name}"


def metric_incr(name: str, label: str, amount: int = 1) -> None:
    """Best effort: a metrics write never breaks a request or a task."""
    from tenants.redis import redis_client

    try:
        redis_client().hincrby(_metrics_key(name), label, amount)
    except Exception:  # broker down: the request still succeeds, /healthz reports it
        logging.getLogger(__name__).debug("metric write failed", exc_info=True)


def metric_values(name: str) -> dict[str, int]:
    from tenants.redis import redis_client

    raw = redis_client().hgetall(_metrics_key(name))
    return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}


HEARTBEAT_KEY = "worker-heartbeat"


def worker_heartbeat_age() -> float | None:
    """Seconds since a worker last ran the heartbeat task, or None if never seen."""
    from tenants.redis import redis_client

    raw = redis_client().get(_metrics_key(HEARTBEAT_KEY))
    if raw is None:
        return None
    return max(0.0, time.time() - float(raw))


@shared_task(name="tenants.observability.worker_heartbeat", ignore_result=True)
def worker_heartbeat() -> float:
    from tenants.redis import redis_client

    now = time.time()
    redis_client().set(_metrics_key(HEARTBEAT_KEY), repr(now), ex=24 * 3600)
    return now


@task_failure.connect
def _count_task_failure(sender: Any = None, **kwargs: Any) -> None:
    metric_incr("celery_task_failures", getattr(sender, "name", None) or "unknown")


# Webhook processing tasks (webhooks.*) take the inbox event's id: bind it to their log records.
_task_tokens: dict[str, contextvars.Token] = {}


@task_prerun.connect
def _bind_webhook_event(
    task_id: str | None = None, task: Any = None, args: Any = None, kwargs: Any = None, **_: Any
) -> None:
    name = getattr(task, "name", "") or ""
    if not name.startswith("webhooks.") or task_id is None:
        return
    event_id = (kwargs or {}).get("event_id", args[0] if args else None)
    if event_id is not None:
        _task_tokens[task_id] = _fields.set({**_fields.get(), "webhook_event_id": str(event_id)})


@task_postrun.connect
def _unbind_webhook_event(task_id: str | None = None, **_: Any) -> None:
    token = _task_tokens.pop(task_id, None) if task_id is not None else None
    if token is not None:
        with contextlib.suppress(ValueError):
            _fields.reset(token)


# --- Middleware ----------------------------------------------------------------------------------


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = valid_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        id_token = _request_id.set(request_id)
        req_token = _request.set(request)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            metric_incr("http_requests", f"{response.status_code // 100}xx")
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response
        finally:
            _request.reset(req_token)
            _request_id.reset(id_token)


# --- /metrics ------------------------------------------------------------------------------------


def _webhook_inbox_counts() -> dict[str, int] | None:
    """Inbox events by status, if the webhooks app has a model with a `status` field."""
    from django.apps import apps
    from django.db.models import Count

    if not apps.is_installed("webhooks"):
        return None
    for model in apps.get_app_config("webhooks").get_models():
        if any(f.name == "status" for f in model._meta.get_fields()):
            rows = model._default_manager.values("status").annotate(n=Count("pk")).order_by()
            return {str(r["status"]): int(r["n"]) for r in rows}
    return None


def _tenant_counts() -> dict[str, int]:
    from django.db.models import Count

    from tenants.models import Tenant

    rows = Tenant.objects.values("status").annotate(n=Count("pk")).order_by()
    return {str(r["status"]): int(r["n"]) for r in rows}


_EXTRA_METRICS: list[Callable[[], Iterator[Any]]] = []


def register_metrics(collect: Callable[[], Iterator[Any]]) -> None:
    """Apps add their own metric families to /metrics (called from their AppConfig.ready)."""
    if collect not in _EXTRA_METRICS:
        _EXTRA_METRICS.append(collect)


class _Collector:
    def collect(self) -> Iterator[Any]:
        from django_tenants.utils import schema_context
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        http = CounterMetricFamily("tenantry_http_requests", "HTTP responses by status class", labels=["status_class"])
        for label, value in sorted(metric_values("http_requests").items()):
            http.add_metric([label], value)
        yield http

        failures = CounterMetricFamily(
            "tenantry_celery_task_failures", "Celery task failures by task name", labels=["task"]
        )
        for label, value in sorted(metric_values("celery_task_failures").items()):
            failures.add_metric([label], value)
        yield failures

        age = worker_heartbeat_age()
        heartbeat = GaugeMetricFamily(
            "tenantry_worker_heartbeat_age_seconds", "Seconds since a worker ran the heartbeat task"
        )
        heartbeat.add_metric([], age if age is not None else float("inf"))
        yield heartbeat

        with schema_context(settings.PUBLIC_SCHEMA_NAME):
            tenants = GaugeMetricFamily("tenantry_tenants", "Tenants by lifecycle status", labels=["status"])
            for label, value in sorted(_tenant_counts().items()):
                tenants.add_metric([label], value)
            yield tenants

            inbox_counts = _webhook_inbox_counts()
            if inbox_counts is not None:
                inbox = GaugeMetricFamily(
                    "tenantry_webhook_inbox_events", "Webhook inbox events by status", labels=["status"]
                )
                for label, value in sorted(inbox_counts.items()):
                    inbox.add_metric([label], value)
                yield inbox

        for extra in _EXTRA_METRICS:
            yield from extra()


def metrics_view(request: HttpRequest) -> HttpResponse:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    supplied = request.headers.get("Authorization", "")
    if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())  # type: ignore[arg-type]
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
