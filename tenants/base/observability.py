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
* `degraded()`: what a Valkey fallback calls (rate-limited warning + tenantry_degraded_total).
* Heartbeats: a thread in every worker process writes one every few seconds (a dead worker shows in
  /healthz within WORKER_HEARTBEAT_MAX_AGE_SECONDS); the beat-scheduled `worker_heartbeat` task
  proves beat → broker → worker works. /healthz reports both as informational checks.
"""

from __future__ import annotations

import contextlib
import contextvars
import hmac
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from celery import shared_task
from celery.signals import task_failure, task_postrun, task_prerun, worker_ready, worker_shutdown
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import empty

from tenants.base.request import tenant_request

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
# Counters live in Valkey hashes. While Valkey is unreachable a process keeps its increments in
# memory (bounded) and adds them on its next successful write; /metrics then serves the last values
# it read plus this process's pending increments, and says so (tenantry_metrics_store_up 0).

_MAX_PENDING_LABELS = 1_000
_pending: dict[tuple[str, str], int] = {}
_last_read: dict[str, dict[str, int]] = {}
_metrics_lock = threading.Lock()


def _metrics_key(name: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'tenantry')}:metrics:{name}"


def metric_incr(name: str, label: str, amount: int = 1) -> None:
    """Best effort: a metrics write never breaks a request or a task."""
    with _metrics_lock:
        _pending[(name, label)] = _pending.get((name, label), 0) + amount
    metrics_flush()


def metrics_flush() -> bool:
    """Write this process's pending counter increments to Valkey; False (kept) when it fails."""
    from tenants.base.redis import VALKEY_ERRORS, guarded, redis_client

    with _metrics_lock:
        batch = dict(_pending)
        _pending.clear()
    if not batch:
        return True
    try:
        client = redis_client()
        if len(batch) == 1:
            (((name, label), amount),) = batch.items()
            client.hincrby(_metrics_key(name), label, amount)
        else:
            pipe = client.pipeline(transaction=False)
            for (name, label), amount in batch.items():
                pipe.hincrby(_metrics_key(name), label, amount)
            with guarded("redis"):
                pipe.execute()
    except VALKEY_ERRORS:  # Valkey down: keep the counts for the next write; /healthz reports it
        with _metrics_lock:
            for key, amount in batch.items():
                if key in _pending or len(_pending) < _MAX_PENDING_LABELS:
                    _pending[key] = _pending.get(key, 0) + amount
        return False
    return True


def metric_values(name: str) -> dict[str, int]:
    from tenants.base.redis import redis_client

    raw = redis_client().hgetall(_metrics_key(name))
    values = {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}
    with _metrics_lock:
        _last_read[name] = values
    return values


def metric_values_or_last(name: str) -> tuple[dict[str, int], bool]:
    """(values, fresh): the shared counters, or the last ones read plus this process's pending ones."""
    from tenants.base.redis import VALKEY_ERRORS

    try:
        values, fresh = dict(metric_values(name)), True
    except VALKEY_ERRORS:
        with _metrics_lock:
            values, fresh = dict(_last_read.get(name, {})), False
    with _metrics_lock:
        for (n, label), value in _pending.items():
            if n == name:
                values[label] = values.get(label, 0) + value
    return values, fresh


# --- Degraded mode -------------------------------------------------------------------------------

DEGRADED_METRIC = "degraded"
_degraded_logged_at: dict[tuple[str, str], float] = {}
_degraded_suppressed: dict[tuple[str, str], int] = {}
_degraded_logger = logging.getLogger("tenantry.degraded")


def degraded(*, component: str, feature: str, exc: BaseException) -> None:
    """Record that `feature` fell back because `component` (cache, redis) failed.

    Counted in /metrics as tenantry_degraded_total{component, feature}; logged as a warning at most
    once per VALKEY_DEGRADED_LOG_INTERVAL_SECONDS per (component, feature), with the number of
    similar events not logged in between.
    """
    metric_incr(DEGRADED_METRIC, f"{component}|{feature}")
    key = (component, feature)
    now = time.monotonic()
    with _metrics_lock:
        last = _degraded_logged_at.get(key)
        if last is not None and now - last < float(settings.VALKEY_DEGRADED_LOG_INTERVAL_SECONDS):
            _degraded_suppressed[key] = _degraded_suppressed.get(key, 0) + 1
            return
        _degraded_logged_at[key] = now
        suppressed = _degraded_suppressed.pop(key, 0)
    _degraded_logger.warning(
        "valkey unavailable, %s degraded (%s): %s: %s; %d similar events since the last message",
        feature,
        component,
        type(exc).__name__,
        exc,
        suppressed,
        extra={"component": component, "feature": feature, "suppressed": suppressed},
    )


# --- Heartbeats ----------------------------------------------------------------------------------
# Every worker process runs a thread that writes the time to HEARTBEAT_KEY every
# WORKER_HEARTBEAT_INTERVAL_SECONDS (started on `worker_ready`), so a killed or hung worker shows in
# /healthz after WORKER_HEARTBEAT_MAX_AGE_SECONDS. The beat-scheduled `worker_heartbeat` task also
# writes BEAT_HEARTBEAT_KEY: beat -> broker -> worker works (BEAT_HEARTBEAT_MAX_AGE_SECONDS).

HEARTBEAT_KEY = "worker-heartbeat"
BEAT_HEARTBEAT_KEY = "beat-heartbeat"
_HEARTBEAT_TTL_SECONDS = 24 * 3600


def _heartbeat_write(*keys: str) -> float:
    from tenants.base.redis import redis_client

    now = time.time()
    for key in keys:
        redis_client().set(_metrics_key(key), repr(now), ex=_HEARTBEAT_TTL_SECONDS)
    return now


def heartbeat_age(key: str = HEARTBEAT_KEY) -> float | None:
    """Seconds since the heartbeat `key` was last written, or None if never seen."""
    from tenants.base.redis import redis_client

    raw = redis_client().get(_metrics_key(key))
    if raw is None:
        return None
    return max(0.0, time.time() - float(raw))


def worker_heartbeat_age() -> float | None:
    """Seconds since a worker process last wrote its heartbeat, or None if never seen."""
    return heartbeat_age(HEARTBEAT_KEY)


@shared_task(name="tenants.base.observability.worker_heartbeat", ignore_result=True)
def worker_heartbeat() -> float:
    return _heartbeat_write(HEARTBEAT_KEY, BEAT_HEARTBEAT_KEY)


class _WorkerHeartbeat(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="tenantry-worker-heartbeat", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        from tenants.base.redis import VALKEY_ERRORS

        while not self.stopping.is_set():
            try:
                _heartbeat_write(HEARTBEAT_KEY)
            except VALKEY_ERRORS as exc:  # Valkey down: the broker is too; try again next beat
                degraded(component="redis", feature="worker_heartbeat", exc=exc)
            except Exception:
                logging.getLogger(__name__).exception("worker heartbeat failed")
            self.stopping.wait(float(settings.WORKER_HEARTBEAT_INTERVAL_SECONDS))


_heartbeat_thread: _WorkerHeartbeat | None = None


@worker_ready.connect(weak=False, dispatch_uid="tenantry-worker-heartbeat-start")
def _start_worker_heartbeat(**_: Any) -> None:
    global _heartbeat_thread
    if _heartbeat_thread is None or not _heartbeat_thread.is_alive():
        _heartbeat_thread = _WorkerHeartbeat()
        _heartbeat_thread.start()


@worker_shutdown.connect(weak=False, dispatch_uid="tenantry-worker-heartbeat-stop")
def _stop_worker_heartbeat(**_: Any) -> None:
    if _heartbeat_thread is not None:
        _heartbeat_thread.stopping.set()


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
        tenant_request(request).request_id = request_id
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


_EXTRA_METRICS: list[Callable[[], Iterator[Any]]] = []


def register_metrics(collect: Callable[[], Iterator[Any]]) -> None:
    """Apps add their own metric families to /metrics (called from their AppConfig.ready): the tenants by
    status (tenants), the webhook inbox (webhooks), outgoing deliveries (tenant_apps.outgoing)."""
    if collect not in _EXTRA_METRICS:
        _EXTRA_METRICS.append(collect)


def counter_family(*, name: str, documentation: str, metric: str, label: str) -> Any:
    """A Prometheus counter family of one of our Valkey-kept counters (`metric_incr`), one sample per
    label value: for the collectors of /metrics."""
    from prometheus_client.core import CounterMetricFamily

    values, _ = metric_values_or_last(metric)
    family = CounterMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class _Collector:
    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from tenants.base.redis import VALKEY_ERRORS

        http_values, fresh = metric_values_or_last("http_requests")
        http = CounterMetricFamily("tenantry_http_requests", "HTTP responses by status class", labels=["status_class"])
        for label, value in sorted(http_values.items()):
            http.add_metric([label], value)
        yield http

        yield counter_family(
            name="tenantry_celery_task_failures",
            documentation="Celery task failures by task name",
            metric="celery_task_failures",
            label="task",
        )
        yield counter_family(
            name="tenantry_webhook_intake_problems",
            documentation="Signed webhook bodies stored in a form other than as sent (outcome: parked or sanitised)",
            metric="webhook_intake_problems",
            label="outcome",
        )

        degraded_values, _ = metric_values_or_last(DEGRADED_METRIC)
        degraded_family = CounterMetricFamily(
            "tenantry_degraded",
            "Operations that fell back because a dependency (component) was unavailable, by feature",
            labels=["component", "feature"],
        )
        for label, value in sorted(degraded_values.items()):
            component, _, feature = label.partition("|")
            degraded_family.add_metric([component, feature], value)
        yield degraded_family

        store = GaugeMetricFamily(
            "tenantry_metrics_store_up",
            "1 when these counters were read from Valkey; 0 when Valkey was unreachable and this "
            "process served the last values it read plus its own pending increments",
        )
        store.add_metric([], 1 if fresh else 0)
        yield store

        for key, name, text in (
            (HEARTBEAT_KEY, "tenantry_worker_heartbeat_age_seconds", "Seconds since a worker wrote its heartbeat"),
            (BEAT_HEARTBEAT_KEY, "tenantry_beat_heartbeat_age_seconds", "Seconds since a worker ran the beat task"),
        ):
            try:
                age = heartbeat_age(key)
            except VALKEY_ERRORS:
                age = None
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], age if age is not None else float("inf"))
            yield gauge

        for extra in _EXTRA_METRICS:
            try:  # a higher layer's collector must never turn /metrics into a 500
                yield from extra()
            except Exception:
                logging.getLogger(__name__).exception(
                    "metrics collector %s failed", getattr(extra, "__qualname__", extra)
                )


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
    registry.register(_Collector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
