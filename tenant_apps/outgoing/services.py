"""Outgoing webhook writes: endpoints, the outbox (written inside the caller's transaction), one
delivery attempt under a claim, retries, the sweeper, disabling endpoints that keep failing.

Delivery guarantee (see docs/api.md "Outgoing webhooks"): at least once to the receiver; at most one
*recorded* success per delivery. An attempt first claims the delivery row (pending -> sending, with a
lease and a random token) in its own short transaction; no transaction is held during the HTTP call.
Only the holder of the token records the outcome. A worker killed mid-request leaves the row in
`sending` until the lease (longer than the HTTP deadline) expires; then the sweeper re-enqueues it and
the receiver may see the same event id a second time.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import random
import time
import uuid
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.policies import tenant_ensure_writable
from tenant_apps.audit.services import audit_event_record
from tenant_apps.outgoing import netguard
from tenant_apps.outgoing.events import ALL_TYPES, EVENT_TYPES, TEST_EVENT_TYPE, render_object
from tenant_apps.outgoing.models import Delivery, DeliveryKind, DeliveryStatus, OutboxEvent, WebhookEndpoint
from tenant_apps.outgoing.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    secret_new,
    signature_header,
)
from tenants.base.actor import Actor
from tenants.base.observability import metric_incr
from tenants.conn import connection
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# Celery task names, declared here and used by tenant_apps/outgoing/tasks.py: the service enqueues by
# name through Celery's registry, so services and their task entry points do not import each other (D87).
DELIVER_TASK = "outgoing.deliver"

EXCERPT_CHARS = 1000


# --- Endpoints ------------------------------------------------------------------------------------


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    refusal = netguard.url_refusal(url, allow_http=settings.OUTGOING_WEBHOOKS_ALLOW_HTTP)
    if refusal == "https_required":
        raise ValidationError({"url": ValidationError("The URL must use https.", code="https_required")})
    if refusal is not None:
        raise ValidationError({"url": ValidationError("Enter a valid URL.", code=refusal)})
    host = urlsplit(url).hostname or ""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = netguard.address_refusal(literal, allow_loopback=settings.OUTGOING_WEBHOOKS_ALLOW_LOOPBACK)
        if reason is not None:
            raise ValidationError(
                {"url": ValidationError(f"This address is not allowed ({reason}).", code="address_refused")}
            )
    return url


def _clean_event_types(event_types: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for value in event_types:
        if value != ALL_TYPES and value not in EVENT_TYPES:
            raise ValidationError(
                {"event_types": ValidationError(f"Unknown event type: {value[:64]}.", code="invalid_event_type")}
            )
        if value not in cleaned:
            cleaned.append(value)
    if not cleaned:
        raise ValidationError({"event_types": ValidationError("Choose at least one event type.", code="required")})
    return [ALL_TYPES] if ALL_TYPES in cleaned else cleaned


@transaction.atomic
def endpoint_create(
    *, actor: Actor, url: str, event_types: Iterable[str], description: str = "", enabled: bool = True
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its signing secret (shown this once)."""
    tenant_ensure_writable()  # a read-only organization manages no endpoints and sends nothing new
    url = _clean_url(url)
    types = _clean_event_types(event_types)
    with connection.cursor() as cursor:  # serialize the count check within this tenant
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{connection.schema_name}:webhook-endpoints"])
    if WebhookEndpoint.objects.count() >= settings.OUTGOING_WEBHOOKS_MAX_ENDPOINTS:
        raise ValidationError(
            f"An organization can register at most {settings.OUTGOING_WEBHOOKS_MAX_ENDPOINTS} endpoints.",
            code="endpoint_limit",
        )
    secret = secret_new()
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        description=description,
        event_types=types,
        enabled=enabled,
        secret=secret,
        created_by=actor.user,
    )
    audit_event_record(
        actor=actor,
        action="webhook_endpoint.created",
        target_type="webhook_endpoint",
        target_id=endpoint.pk,
        data={"url": url, "event_types": types},
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(*, actor: Actor, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change url, description, event_types or enabled. Re-enabling clears the failure state."""
    tenant_ensure_writable()
    unknown = set(changes) - {"url", "description", "event_types", "enabled"}
    if unknown:
        raise ValueError(f"unknown endpoint fields: {sorted(unknown)}")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    fields: list[str] = []
    if "url" in changes:
        endpoint.url = _clean_url(changes["url"])
        fields.append("url")
    if "description" in changes:
        endpoint.description = changes["description"]
        fields.append("description")
    if "event_types" in changes:
        endpoint.event_types = _clean_event_types(changes["event_types"])
        fields.append("event_types")
    if "enabled" in changes and bool(changes["enabled"]) != endpoint.enabled:
        endpoint.enabled = bool(changes["enabled"])
        endpoint.disabled_reason = ""
        endpoint.disabled_at = None if endpoint.enabled else timezone.now()
        endpoint.failing_since = None
        fields += ["enabled", "disabled_reason", "disabled_at", "failing_since"]
    if fields:
        endpoint.save(update_fields=[*fields, "updated_at"])
    audit_event_record(
        actor=actor,
        action="webhook_endpoint.updated",
        target_type="webhook_endpoint",
        target_id=endpoint.pk,
        data={"fields": sorted(set(fields) & set(changes))},
    )
    return endpoint


@transaction.atomic
def endpoint_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    tenant_ensure_writable()
    endpoint_id, url = endpoint.pk, endpoint.url
    WebhookEndpoint.objects.filter(pk=endpoint_id).delete()
    audit_event_record(
        actor=actor,
        action="webhook_endpoint.deleted",
        target_type="webhook_endpoint",
        target_id=endpoint_id,
        data={"url": url},
    )


@transaction.atomic
def endpoint_rotate_secret(
    *, actor: Actor, endpoint: WebhookEndpoint, overlap_seconds: int | None = None, now: dt.datetime | None = None
) -> tuple[WebhookEndpoint, str]:
    """New signing secret (returned once). The old one keeps signing alongside it for `overlap_seconds`
    (0: it stops at once), so receivers can switch without missing an event."""
    tenant_ensure_writable()
    now = now or timezone.now()
    overlap = settings.OUTGOING_WEBHOOKS_ROTATION_OVERLAP_SECONDS if overlap_seconds is None else overlap_seconds
    if overlap < 0 or overlap > settings.OUTGOING_WEBHOOKS_ROTATION_MAX_OVERLAP_SECONDS:
        raise ValidationError(
            {
                "overlap_seconds": ValidationError(
                    f"Choose between 0 and {settings.OUTGOING_WEBHOOKS_ROTATION_MAX_OVERLAP_SECONDS} seconds.",
                    code="invalid_overlap",
                )
            }
        )
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = secret_new()
    if overlap:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + dt.timedelta(seconds=overlap)
    else:
        endpoint.previous_secret = ""
        endpoint.previous_secret_expires_at = None
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    audit_event_record(
        actor=actor,
        action="webhook_endpoint.secret_rotated",
        target_type="webhook_endpoint",
        target_id=endpoint.pk,
        data={"overlap_seconds": overlap},
    )
    return endpoint, secret


def signing_secrets(*, endpoint: WebhookEndpoint, now: dt.datetime) -> list[str]:
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets.append(endpoint.previous_secret)
    return secrets


# --- The outbox -----------------------------------------------------------------------------------


def _event_body(*, event_id: str, sequence: int, event_type: str, created: dt.datetime, obj: dict) -> str:
    payload = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created.isoformat().replace("+00:00", "Z"),
        "api_version": settings.OUTGOING_WEBHOOKS_API_VERSION,
        "organization": _tenant_slug(),
        "sequence": sequence,
        "data": {"object": obj},
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def _tenant_slug() -> str | None:
    tenant = getattr(connection, "tenant", None)
    slug = getattr(tenant, "slug", None)
    if slug is None:  # schema_context gives a stand-in without fields (worker, billing signal)
        from tenants.models import Tenant

        slug = Tenant.objects.filter(schema_name=connection.schema_name).values_list("slug", flat=True).first()
    return slug


def _event_insert(*, event_type: str, obj: dict, created: dt.datetime) -> OutboxEvent:
    with connection.cursor() as cursor:  # the id is part of the body (as `sequence`): take it first
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [OutboxEvent._meta.db_table])
        sequence = int(cursor.fetchone()[0])
    event_id = "evt_" + uuid.uuid4().hex
    body = _event_body(event_id=event_id, sequence=sequence, event_type=event_type, created=created, obj=obj)
    return OutboxEvent.objects.create(
        id=sequence,
        event_id=event_id,
        type=event_type,
        api_version=settings.OUTGOING_WEBHOOKS_API_VERSION,
        body=body,
        created_at=created,
    )


def outbox_record(*, event_type: str, obj: Any = None, data: dict | None = None) -> OutboxEvent | None:
    """Announce a change, inside the transaction that makes it (call it from the service's atomic block).

    Writes the event and one pending delivery per enabled endpoint that subscribes to its type; after
    commit the deliveries are enqueued (a lost enqueue is caught by the sweeper). A rollback takes the
    event with it. Nothing is written when no endpoint subscribes (see docs/decisions.md D57)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(enabled=True).only("id", "event_types") if e.accepts(event_type)
    ]
    if not endpoints:
        return None
    rendered = data if data is not None else render_object(event_type=event_type, obj=obj)
    now = timezone.now()
    event = _event_insert(event_type=event_type, obj=rendered, created=now)
    deliveries = Delivery.objects.bulk_create(
        Delivery(event=event, endpoint_id=e.pk, next_attempt_at=now, enqueued_at=now, created_at=now) for e in endpoints
    )
    _enqueue_on_commit([d.pk for d in deliveries])
    return event


def _enqueue_on_commit(delivery_ids: list[int]) -> None:
    schema = connection.schema_name  # on_commit may run after the caller left this schema
    transaction.on_commit(lambda: deliveries_enqueue(schema_name=schema, delivery_ids=delivery_ids))


def deliveries_enqueue(*, schema_name: str, delivery_ids: list[int], countdown: float | None = None) -> int:
    """Send the delivery tasks (in the tenant's schema, so the message carries it). A broker outage is
    logged, not raised: the rows lose their `enqueued_at` and the sweeper sends them later."""
    deliver = current_app.tasks[DELIVER_TASK]
    sent = 0
    with schema_context(schema_name):
        for pk in delivery_ids:
            try:
                deliver.apply_async(
                    args=[pk],
                    countdown=countdown,
                    queue=settings.OUTGOING_WEBHOOKS_QUEUE,
                    retry_policy={"max_retries": 1, "interval_start": 0.05},
                )
                sent += 1
            except Exception:
                logger.warning("could not enqueue webhook delivery %s; the sweeper will", pk, exc_info=True)
                Delivery.objects.filter(pk=pk, status=DeliveryStatus.PENDING).update(enqueued_at=None)
    return sent


@transaction.atomic
def endpoint_send_test(*, actor: Actor, endpoint: WebhookEndpoint) -> Delivery:
    """A `webhook.test` event to this endpoint only (also when it is disabled: check before enabling)."""
    tenant_ensure_writable()
    now = timezone.now()
    data = {
        "endpoint_id": endpoint.pk,
        "message": "A test event from Tenantry.",
        "requested_by_id": actor.user.pk if actor.user is not None else None,
    }
    event = _event_insert(event_type=TEST_EVENT_TYPE, obj=data, created=now)
    delivery = Delivery.objects.create(
        event=event, endpoint=endpoint, kind=DeliveryKind.TEST, next_attempt_at=now, enqueued_at=now, created_at=now
    )
    _enqueue_on_commit([delivery.pk])
    return delivery


@transaction.atomic
def delivery_resend(*, actor: Actor, delivery: Delivery) -> Delivery:
    """Send the same event (same id, same body) to the same endpoint again, as a new delivery."""
    tenant_ensure_writable()
    now = timezone.now()
    again = Delivery.objects.create(
        event_id=delivery.event_id,
        endpoint_id=delivery.endpoint_id,
        kind=DeliveryKind.RESEND,
        next_attempt_at=now,
        enqueued_at=now,
        created_at=now,
    )
    audit_event_record(
        actor=actor,
        action="webhook_delivery.resent",
        target_type="webhook_endpoint",
        target_id=delivery.endpoint_id,
        data={"delivery_id": delivery.pk, "new_delivery_id": again.pk},
    )
    _enqueue_on_commit([again.pk])
    return again


# --- Delivering -----------------------------------------------------------------------------------


def retry_delay(attempt: int) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), capped, then a random 50-100 % of it."""
    cap = min(
        settings.OUTGOING_WEBHOOKS_RETRY_MAX_SECONDS,
        settings.OUTGOING_WEBHOOKS_RETRY_BASE_SECONDS * (2 ** max(0, min(attempt, 40) - 1)),
    )
    return cap / 2 + random.uniform(0, cap / 2)  # noqa: S311 - jitter, not security


def _excerpt(body: bytes, truncated: bool) -> str:
    text = body[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    return text + ("…" if truncated or len(body) > len(text.encode()) else "")


def delivery_attempt(*, delivery_id: int, now: dt.datetime | None = None) -> tuple[str, float | None]:
    """Make one attempt if the delivery is due and nobody else holds it.

    Returns (outcome, retry_in_seconds): succeeded | retry | failed | busy | not_due | done | missing.
    `now` is the logical time for the schedule (tests pass it to advance time without waiting)."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    lease = dt.timedelta(
        seconds=settings.OUTGOING_WEBHOOKS_TIMEOUT_SECONDS + settings.OUTGOING_WEBHOOKS_LEASE_MARGIN_SECONDS
    )
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, lease_until__lt=now
    )
    claimed = Delivery.objects.filter(due, pk=delivery_id).update(
        status=DeliveryStatus.SENDING,
        claim_token=token,
        lease_until=now + lease,
        attempts=F("attempts") + 1,
        first_attempt_at=Coalesce(F("first_attempt_at"), Value(now)),
        last_attempt_at=now,
    )
    if not claimed:
        row = Delivery.objects.filter(pk=delivery_id).values("status").first()
        if row is None:
            return "missing", None
        if row["status"] == DeliveryStatus.SENDING:
            return "busy", None
        if row["status"] == DeliveryStatus.PENDING:
            return "not_due", None
        return "done", None
    delivery = Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.enabled and delivery.kind != DeliveryKind.TEST:
        _record(delivery=delivery, token=token, now=now, ok=False, final=True, error="Endpoint disabled.")
        return "failed", None

    body = delivery.event.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tenantry-Webhooks/1",
        SIGNATURE_HEADER: signature_header(
            body=body, secrets=signing_secrets(endpoint=endpoint, now=now), timestamp=int(time.time())
        ),
        EVENT_ID_HEADER: delivery.event.event_id,
        EVENT_TYPE_HEADER: delivery.event.type,
    }
    started = time.monotonic()
    status_code: int | None = None
    excerpt = ""
    error = ""
    try:
        result = netguard.post(
            url=endpoint.url,
            body=body,
            headers=headers,
            timeout=settings.OUTGOING_WEBHOOKS_TIMEOUT_SECONDS,
            max_bytes=settings.OUTGOING_WEBHOOKS_MAX_RESPONSE_BYTES,
            allow_http=settings.OUTGOING_WEBHOOKS_ALLOW_HTTP,
            allow_loopback=settings.OUTGOING_WEBHOOKS_ALLOW_LOOPBACK,
        )
        status_code = result.status
        excerpt = _excerpt(result.body, result.truncated)
        ok = HTTPStatus.OK <= result.status < HTTPStatus.MULTIPLE_CHOICES
        if not ok:
            error = f"HTTP {result.status}" + (
                " (redirects are not followed)"
                if HTTPStatus.MULTIPLE_CHOICES <= result.status < HTTPStatus.BAD_REQUEST
                else ""
            )
    except netguard.DeliveryRefused as exc:
        ok, error = False, f"{exc.code}: {exc}"
    except (OSError, TimeoutError, ValueError) as exc:
        ok, error = False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception as exc:  # http.client.HTTPException and friends: a failed attempt, not a crash
        ok, error = False, f"{type(exc).__name__}: {exc}"
    duration_ms = int((time.monotonic() - started) * 1000)

    # Retries until the window (from the delivery's creation) ends; the last one is made at its end.
    window_end = delivery.created_at + dt.timedelta(seconds=settings.OUTGOING_WEBHOOKS_RETRY_WINDOW_SECONDS)
    delay = None if ok else retry_delay(delivery.attempts)
    final = not ok and (delivery.kind == DeliveryKind.TEST or now >= window_end)
    next_attempt_at = None
    if not ok and not final:
        next_attempt_at = min(now + dt.timedelta(seconds=delay or 0), window_end)
        delay = (next_attempt_at - now).total_seconds()
    recorded = _record(
        delivery=delivery,
        token=token,
        now=now,
        ok=ok,
        final=final,
        error=error[:500],
        status_code=status_code,
        excerpt=excerpt,
        duration_ms=duration_ms,
        next_attempt_at=next_attempt_at,
    )
    if not recorded:
        return "busy", None
    if ok:
        metric_incr("outgoing_webhook_deliveries", "succeeded")
        return "succeeded", None
    metric_incr("outgoing_webhook_deliveries", "failed_attempt")
    if final:
        metric_incr("outgoing_webhook_deliveries", "failed")
        return "failed", None
    return "retry", delay


def _record(
    *,
    delivery: Delivery,
    token: str,
    now: dt.datetime,
    ok: bool,
    final: bool,
    error: str = "",
    status_code: int | None = None,
    excerpt: str = "",
    duration_ms: int | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> bool:
    """Record the attempt's outcome, only if this attempt still holds the claim."""
    fields: dict[str, Any] = {
        "claim_token": "",
        "lease_until": None,
        "response_status": status_code,
        "response_excerpt": excerpt,
        "duration_ms": duration_ms,
        "error": error,
    }
    if ok:
        fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=now, next_attempt_at=None)
    elif final:
        fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        # A short wait is enqueued with a countdown by the task (enqueued_at stamped there); longer ones
        # are left to the sweeper, which finds rows whose next attempt is due.
        fields.update(status=DeliveryStatus.PENDING, next_attempt_at=next_attempt_at, enqueued_at=None)
    claimed = Delivery.objects.filter(pk=delivery.pk, claim_token=token, status=DeliveryStatus.SENDING)
    if ok and (delivery.kind == DeliveryKind.TEST or delivery.endpoint.failing_since is None):
        return bool(claimed.update(**fields))  # the common case: one statement, no transaction
    with transaction.atomic():
        if not claimed.update(**fields):
            return False
        if delivery.kind == DeliveryKind.TEST:
            return True
        if ok:
            WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(failing_since=None)
            return True
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, failing_since__isnull=True).update(failing_since=now)
        if final:
            _maybe_disable(endpoint_id=delivery.endpoint_id, first_attempt_at=delivery.first_attempt_at or now, now=now)
        return True


def _maybe_disable(*, endpoint_id: int, first_attempt_at: dt.datetime, now: dt.datetime) -> None:
    """A delivery failed for its whole window. If the endpoint had no success since that delivery's first
    attempt either (success clears `failing_since`), it kept failing for the whole window: disable it
    and email the organization's owners (after commit)."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id, enabled=True).first()
    if endpoint is None or endpoint.failing_since is None or endpoint.failing_since > first_attempt_at:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = "failing"
    endpoint.disabled_at = now
    endpoint.save(update_fields=["enabled", "disabled_reason", "disabled_at", "updated_at"])
    metric_incr("outgoing_webhook_endpoints_disabled", "failing")
    audit_event_record(
        actor=Actor(user=None),
        action="webhook_endpoint.disabled",
        target_type="webhook_endpoint",
        target_id=endpoint.pk,
        data={"reason": "failing", "failing_since": endpoint.failing_since.isoformat()},
    )
    tenant = getattr(connection, "tenant", None)
    url = endpoint.url
    transaction.on_commit(lambda: _email_owners_disabled(tenant=tenant, url=url, endpoint_id=endpoint_id))


def _email_owners_disabled(*, tenant: Any, url: str, endpoint_id: int) -> None:
    from shared_apps.accounts.models import Membership, Role

    if tenant is None or not getattr(tenant, "pk", None):
        tenant = Tenant.objects.filter(schema_name=connection.schema_name).first()
    if tenant is None:
        return
    emails = list(Membership.objects.filter(tenant_id=tenant.pk, role=Role.OWNER).values_list("user__email", flat=True))
    if not emails:
        return
    send_mail(
        subject=f"Webhook endpoint disabled in {tenant.name}",
        message=(
            f"The webhook endpoint {url} of {tenant.name} failed every delivery for "
            f"{settings.OUTGOING_WEBHOOKS_RETRY_WINDOW_SECONDS // 3600} hours and has been disabled.\n\n"
            f"Fix the receiver, then enable it again in the portal (/webhooks/{endpoint_id}/) or with "
            f'PATCH /api/v1/webhook-endpoints/{endpoint_id}/ {{"enabled": true}}.\n'
        ),
        from_email=getattr(settings, "DEFAULT_FROM_EMAIL", None),
        recipient_list=emails,
        fail_silently=True,
    )


# --- The sweeper ----------------------------------------------------------------------------------


def deliveries_sweep(*, now: dt.datetime | None = None, limit: int = 500) -> tuple[int, int]:
    """In the current tenant schema: re-enqueue deliveries that are due but not (recently) enqueued, and
    claims whose lease ran out (a killed worker). Returns (enqueued, queue depth)."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.OUTGOING_WEBHOOKS_SWEEP_AFTER_SECONDS)
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) & (
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=stale)
    )
    expired = Q(status=DeliveryStatus.SENDING, lease_until__lt=now) & (
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=stale)
    )
    ids = list(Delivery.objects.filter(due | expired).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    if ids:
        Delivery.objects.filter(pk__in=ids).update(enqueued_at=now)
        deliveries_enqueue(schema_name=connection.schema_name, delivery_ids=ids)
    depth = Delivery.objects.filter(status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING)).count()
    return len(ids), depth


def deliveries_sweep_all(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Every tenant schema (beat): re-enqueue what was lost; record the total queue depth for /metrics."""
    from tenants.base.redis import redis_client
    from tenants.models import Tenant, TenantStatus
    from tenants.routing import schema_activate

    enqueued = depth = 0
    for schema in Tenant.objects.exclude(status=TenantStatus.CLOSED).values_list("schema_name", flat=True):
        with schema_activate(schema):  # on the shard holding it (tenants/routing.py)
            sent, pending = deliveries_sweep(now=now)
        enqueued += sent
        depth += pending
    try:
        redis_client().set(_depth_key(), depth)
    except Exception:
        logger.debug("queue depth not recorded", exc_info=True)
    return {"enqueued": enqueued, "queue_depth": depth}


def _depth_key() -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'tenantry')}:metrics:outgoing_webhook_queue_depth"


def outbox_prune(*, now: dt.datetime | None = None) -> int:
    """Drop events (and their deliveries) older than the retention, once nothing is pending for them."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.OUTGOING_WEBHOOKS_RETENTION_DAYS)
    busy = Delivery.objects.filter(status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING)).values("event_id")
    deleted, _ = OutboxEvent.objects.filter(created_at__lt=cutoff).exclude(pk__in=busy).delete()
    return deleted


def outbox_prune_all(*, now: dt.datetime | None = None) -> int:
    from tenants.models import Tenant
    from tenants.routing import schema_activate

    total = 0
    for schema in Tenant.objects.values_list("schema_name", flat=True):
        with schema_activate(schema):  # on the shard holding it (tenants/routing.py)
            total += outbox_prune(now=now)
    return total
