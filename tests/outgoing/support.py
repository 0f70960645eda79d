"""Outgoing-webhooks test helpers."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from tenant_apps.outgoing import services
from tenant_apps.outgoing.models import WebhookEndpoint
from tenants.base.actor import Actor


def make_endpoint(tenant: Any, url: str, types: list[str] | None = None) -> tuple[WebhookEndpoint, str]:
    with schema_context(tenant.schema_name):
        return services.endpoint_create(actor=Actor(user=None), url=url, event_types=types or ["*"])
