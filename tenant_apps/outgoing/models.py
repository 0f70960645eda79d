"""Outgoing webhooks (tenant schema): endpoints an organization registers, the outbox of events written
in the same transaction as the change, and one delivery per (event, endpoint)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    # Event types this endpoint receives; ["*"] means every type.
    event_types = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    # Why it was disabled by the system ("failing"), empty when enabled or disabled by a person.
    disabled_reason = models.CharField(max_length=32, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Signing secrets. HMAC needs the secret itself, so it is stored as is and never shown again after
    # creation/rotation (see docs/decisions.md D58). The previous one keeps signing until it expires.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # First failed attempt since the last success (None while healthy).
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", db_constraint=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    def accepts(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class OutboxEvent(models.Model):
    """One event, written in the transaction of the change it announces. `body` is the exact JSON sent
    (byte-identical on every retry); `id` doubles as the organization-wide sequence number."""

    event_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=64)
    api_version = models.CharField(max_length=16)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class DeliveryKind(models.TextChoices):
    EVENT = "event", "Event"
    RESEND = "resend", "Sent again"
    TEST = "test", "Test event"


class Delivery(models.Model):
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=8, choices=DeliveryKind.choices, default=DeliveryKind.EVENT)
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the last enqueue was sent (None: not yet, or it failed); the sweeper re-enqueues stale ones.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # The claim of the attempt in flight: only the holder of this token may record its outcome.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at", "-id"], name="outgoing_delivery_log_idx"),
        ]
        constraints = [
            # The automatic delivery of an event to an endpoint exists once (resends are extra rows).
            models.UniqueConstraint(
                fields=["event", "endpoint"], condition=models.Q(kind="event"), name="outgoing_one_delivery_per_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id}->{self.endpoint_id} {self.status}"
