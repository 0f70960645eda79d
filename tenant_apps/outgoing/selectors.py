"""Outgoing webhook reads (current tenant schema)."""

from __future__ import annotations

from django.db.models import QuerySet

from tenant_apps.outgoing.models import Delivery, WebhookEndpoint


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("-created_at", "-id")


def endpoint_get(*, endpoint_id: int) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(pk=endpoint_id).first()


def delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    return Delivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-created_at", "-id")


def delivery_get(*, endpoint: WebhookEndpoint, delivery_id: int) -> Delivery | None:
    return delivery_list(endpoint=endpoint).filter(pk=delivery_id).first()
