"""The Stripe webhook inbox for operators: filter by status and type, read the payload and the last
error, and replay selected events (reset to pending and sent to the workers, as
`manage.py replay_webhooks --enqueue` does)."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from typing_extensions import override

from webhooks.models import WebhookEvent
from webhooks.services import webhook_events_replay


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("stripe_event_id", "type", "status", "attempts", "organization", "received_at", "processed_at")
    list_filter = ("status", "type", "livemode")
    search_fields = ("stripe_event_id", "type", "last_error", "parse_note", "tenant__slug")
    list_select_related = ("tenant",)
    date_hierarchy = "received_at"
    ordering = ("-received_at",)
    actions = ("replay",)
    fields = (
        "stripe_event_id",
        "type",
        "status",
        "attempts",
        "organization",
        "last_error",
        "parse_note",
        "livemode",
        "api_version",
        "stripe_created",
        "received_at",
        "enqueued_at",
        "processed_at",
        "payload_pretty",
    )
    readonly_fields = fields

    @admin.display(description="organization", ordering="tenant__slug")
    def organization(self, obj: WebhookEvent) -> str:
        if obj.tenant_id is None:
            return "-"
        url = reverse("admin:tenants_tenant_change", args=[obj.tenant_id])
        return format_html('<a href="{}">{}</a>', url, obj.tenant.slug if obj.tenant else obj.tenant_id)

    @admin.display(description="payload")
    def payload_pretty(self, obj: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    @admin.action(description="Replay selected events (reset and re-enqueue)", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        results = webhook_events_replay(events=list(queryset.order_by("received_at")))
        failed = [stripe_id for stripe_id, status in results if status != "enqueued"]
        self.message_user(
            request, f"Replayed {len(results) - len(failed)} event(s): sent to the workers.", messages.SUCCESS
        )
        if failed:
            self.message_user(
                request,
                f"Could not enqueue {', '.join(failed)} (broker down?): left pending; the sweeper retries them.",
                messages.WARNING,
            )

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_webhookevent")

    @override
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events arrive signed from Stripe only

    @override
    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the stored event is evidence: read it, replay it, never edit it

    @override
    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
