"""Inbox of Stripe webhook events (public schema): stored on receipt, processed by a Celery task."""

from __future__ import annotations

from django.db import models


class EventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (type not handled)"
    UNMATCHED = "unmatched", "Unmatched (unknown customer)"
    FAILED = "failed", "Failed"
    PARKED = "parked", "Parked (body not fully understood; see parse note)"


# Never processed again by themselves. A parked event is processed only after an operator replays it.
FINAL_STATUSES = (EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.UNMATCHED, EventStatus.PARKED)


class WebhookEvent(models.Model):
    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=120, db_index=True)
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=64, blank=True, default="")
    stripe_created = models.DateTimeField(null=True, blank=True)
    body = models.TextField()  # the raw, verified request body
    payload = models.JSONField()  # the parsed body; sanitised for jsonb when parse_note says so
    parse_note = models.TextField(blank=True, default="")  # what was cut or replaced to store `payload`
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The Stripe customer the event is about (data.object.customer, or the customer itself): pending
    # events with the same key are applied together, one Stripe fetch per object (D110). "" if none.
    group_key = models.CharField(max_length=255, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "received_at"]),
            # The drain's claim (webhooks/services.py, webhook_events_drain): pending rows only.
            models.Index(
                fields=["group_key", "received_at"],
                name="webhooks_pending_group",
                condition=models.Q(status="pending"),
            ),
        ]
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.stripe_event_id} {self.type} ({self.status})"
