"""API usage metering: one Valkey INCR per request (hot path), reported hourly as Stripe meter events.

While Valkey is unavailable a process keeps its counts in memory (at most
BILLING_USAGE_PENDING_MAX tenant-hours) and adds them with its next successful increment, so a
short outage loses no usage (when a write fails after it may have reached Valkey, e.g. a timeout,
its counts are dropped rather than risk counting them twice); the fallback is logged (rate-limited) and counted as
tenantry_degraded_total{component="redis", feature="usage_metering"}. Counts still pending when
the process exits are lost (under-billing, never double billing).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from django.conf import settings
from django.utils import timezone

from tenants.base.observability import degraded
from tenants.base.redis import VALKEY_ERRORS, guarded, never_sent, redis_client

_LAST_READ_MAX_ENTRIES = 10_000  # a bound on the process-local fallback map

logger = logging.getLogger(__name__)

KEY_TTL_SECONDS = 7 * 24 * 3600


def _prefix() -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'tenantry')}:usage"


def hour_bucket(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H")


def usage_key(tenant_id: int, bucket: str) -> str:
    return f"{_prefix()}:api:{tenant_id}:{bucket}"


def reported_key(tenant_id: int, bucket: str) -> str:
    return f"{_prefix()}:reported:{tenant_id}:{bucket}"


_pending: dict[str, int] = {}
_pending_lock = threading.Lock()


def usage_increment(tenant_id: int, *, now: dt.datetime | None = None) -> None:
    """Count one API request for the tenant in the current hour. Never raises (metering must not
    break the API): on a Valkey error the count waits in memory for the next successful write."""
    key = usage_key(tenant_id, hour_bucket(now or timezone.now()))
    with _pending_lock:
        _pending[key] = _pending.get(key, 0) + 1
    usage_flush()


def usage_flush() -> bool:
    """Write this process's pending counts to Valkey; False (counts kept or dropped) when it fails."""
    with _pending_lock:
        batch = dict(_pending)
        _pending.clear()
    if not batch:
        return True
    try:
        pipe = redis_client().pipeline(transaction=False)
        for batch_key, amount in batch.items():
            pipe.incrby(batch_key, amount)
            pipe.expire(batch_key, KEY_TTL_SECONDS, nx=True)
        with guarded("redis"):
            pipe.execute()
    except VALKEY_ERRORS as exc:
        if not never_sent(exc):
            batch = {}  # may have been applied: drop rather than risk counting twice
        with _pending_lock:
            for batch_key, amount in batch.items():
                if batch_key in _pending or len(_pending) < settings.BILLING_USAGE_PENDING_MAX:
                    _pending[batch_key] = _pending.get(batch_key, 0) + amount
        degraded(component="redis", feature="usage_metering", exc=exc)
        return False
    return True


def usage_pending() -> dict[str, int]:
    """This process's counts not yet written to Valkey (key -> requests)."""
    with _pending_lock:
        return dict(_pending)


def usage_for_hour(tenant_id: int, bucket: str) -> int:
    value = redis_client().get(usage_key(tenant_id, bucket))
    return int(value or 0)


_last_read: dict[str, int] = {}


def usage_current_hour(tenant_id: int) -> int:
    """Requests counted this hour, for display (portal dashboard and billing page, billing API).

    Never raises: while Valkey is unavailable it answers the last value this process read plus the
    counts it holds in memory (a lower bound), and counts the fallback as degraded "usage_display".
    The hourly report (`usage_report`) reads Valkey directly and fails rather than guess."""
    key = usage_key(tenant_id, hour_bucket(timezone.now()))
    with _pending_lock:
        pending = _pending.get(key, 0)
    try:
        value = int(redis_client().get(key) or 0)
    except VALKEY_ERRORS as exc:
        degraded(component="redis", feature="usage_display", exc=exc)
        return _last_read.get(key, 0) + pending
    if len(_last_read) > _LAST_READ_MAX_ENTRIES:
        _last_read.clear()
    _last_read[key] = value
    return value + pending


def usage_report(*, now: dt.datetime | None = None, lookback_hours: int | None = None) -> int:
    """Send every completed, unreported hour as one meter event per tenant. The identifier is
    deterministic (tenant, hour), so a repeated run cannot double count. Returns events sent."""
    from billing import gateway
    from billing.models import BillingCustomer

    now = now or timezone.now()
    hours = lookback_hours or settings.BILLING_USAGE_LOOKBACK_HOURS
    current = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    buckets = [current - dt.timedelta(hours=h) for h in range(1, hours + 1)]
    client = redis_client()
    sent = 0
    for customer in BillingCustomer.objects.all().only("tenant_id", "stripe_customer_id"):
        for start in buckets:
            bucket = hour_bucket(start)
            value = usage_for_hour(customer.tenant_id, bucket)
            if value <= 0 or client.exists(reported_key(customer.tenant_id, bucket)):
                continue
            gateway.meter_event_create(
                event_name=settings.BILLING_METER_EVENT_NAME,
                customer_id=customer.stripe_customer_id,
                value=value,
                timestamp=int(start.timestamp()) + 3599,
                identifier=f"tenantry-usage-{customer.tenant_id}-{bucket}",
            )
            client.set(reported_key(customer.tenant_id, bucket), value, ex=KEY_TTL_SECONDS)
            sent += 1
    return sent
