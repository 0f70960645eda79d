"""Keeps the API's request cache honest (tenants.base.request_cache, D120): the entitlements it caches come
from the subscription. Not business logic."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.models import Subscription
from tenants.base.request_cache import request_cache_bump


@receiver([post_save, post_delete], sender=Subscription, dispatch_uid="api-request-cache-subscription")
def _subscription_changed(instance: Subscription, **_: Any) -> None:
    if instance.tenant_id is not None:
        request_cache_bump(tenant_id=instance.tenant_id)
