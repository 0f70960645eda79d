from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from webhooks.models import WebhookEvent
from webhooks.services import webhook_events_replay


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("stripe_event_id", "type", "status", "attempts", "tenant", "received_at", "processed_at")
    list_filter = ("status", "type")
    search_fields = ("stripe_event_id", "type", "last_error", "parse_note")
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    actions = ["replay"]
    ordering = ("-received_at",)

    @admin.action(description="Replay selected events (reset and re-enqueue)")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        results = webhook_events_replay(events=list(queryset))
        self.message_user(request, f"Replayed {len(results)} event(s).", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
