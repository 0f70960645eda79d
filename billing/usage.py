"""API usage metering: one Redis INCR per request (hot path), reported hourly as Stripe meter events."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from tenants.redis import redis_client

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


def usage_increment(tenant_id: int, *, now: dt.datetime | None = None) -> None:
    """Count one API request for the tenant in the current hour. Never raises (metering must not
    break the API): on a Redis error the request is simply not counted."""
    key = usage_key(tenant_id, hour_bucket(now or timezone.now()))
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, KEY_TTL_SECONDS, nx=True)
        pipe.execute()
    except Exception:  # pragma: no cover - Redis down
        logger.warning("usage counter unavailable", exc_info=True)


def usage_for_hour(tenant_id: int, bucket: str) -> int:
    value = redis_client().get(usage_key(tenant_id, bucket))
    return int(value or 0)


def usage_current_hour(tenant_id: int) -> int:
    return usage_for_hour(tenant_id, hour_bucket(timezone.now()))


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
