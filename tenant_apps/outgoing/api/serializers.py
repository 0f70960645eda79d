"""Explicit input and output shapes of the outgoing webhooks API."""

from __future__ import annotations

import json

from rest_framework import serializers

from tenant_apps.outgoing.events import ALL_TYPES, EVENT_TYPES
from tenant_apps.outgoing.models import Delivery, WebhookEndpoint

EVENT_TYPE_CHOICES = [ALL_TYPES, *EVENT_TYPES]


class EndpointOutput(serializers.ModelSerializer):
    secret_rotating_until = serializers.DateTimeField(
        source="previous_secret_expires_at",
        read_only=True,
        allow_null=True,
        help_text="While set, the previous secret still signs too (two v1 signatures).",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "secret_rotating_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EndpointWithSecretOutput(EndpointOutput):
    secret = serializers.CharField(help_text="The signing secret. Shown once, here; store it now.")

    class Meta(EndpointOutput.Meta):
        fields = [*EndpointOutput.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointCreateInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES), min_length=1, max_length=len(EVENT_TYPE_CHOICES)
    )
    enabled = serializers.BooleanField(required=False, default=True)


class EndpointUpdateInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES),
        min_length=1,
        max_length=len(EVENT_TYPE_CHOICES),
        required=False,
    )
    enabled = serializers.BooleanField(required=False)


class RotateInput(serializers.Serializer):
    overlap_seconds = serializers.IntegerField(
        min_value=0,
        max_value=7 * 24 * 3600,
        required=False,
        help_text="How long the old secret keeps signing too (default 24 h; 0 = stop at once).",
    )


class DeliveryOutput(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.event_id", read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    endpoint_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint_id",
            "event_id",
            "event_type",
            "kind",
            "status",
            "attempts",
            "response_status",
            "response_excerpt",
            "duration_ms",
            "error",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class DeliveryDetailOutput(DeliveryOutput):
    payload = serializers.SerializerMethodField(help_text="The event exactly as it is sent.")

    class Meta(DeliveryOutput.Meta):
        fields = [*DeliveryOutput.Meta.fields, "payload"]
        read_only_fields = fields

    def get_payload(self, obj: Delivery) -> dict:
        return json.loads(obj.event.body)


class EventTypesOutput(serializers.Serializer):
    event_types = serializers.ListField(child=serializers.CharField())
