"""Keeps the API's request cache honest (tenants.base.request_cache, D120): a membership or a user changed ->
the organizations concerned re-read them on their next request. Not business logic."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from shared_apps.accounts.models import Membership, User
from tenants.base.request_cache import request_cache_bump


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="api-request-cache-membership")
def _membership_changed(instance: Membership, **_: Any) -> None:
    if instance.tenant_id is not None:
        request_cache_bump(tenant_id=instance.tenant_id)


@receiver(post_save, sender=User, dispatch_uid="api-request-cache-user")
def _user_changed(instance: User, update_fields: Any = None, **_: Any) -> None:
    # A sign-in only records last_login: nothing the API caches about the user changes.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    for tenant_id in Membership.objects.filter(user_id=instance.pk).values_list("tenant_id", flat=True):
        request_cache_bump(tenant_id=tenant_id)
