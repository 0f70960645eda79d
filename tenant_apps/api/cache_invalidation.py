"""Keeps the API's request cache honest (tenants.request_cache, D120): every change to what the
request path caches (a token, a membership, a user, a subscription, a tenant's status) bumps the
tenant's generation, so every process re-reads it on its next request. Not business logic."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.models import Subscription
from shared_apps.accounts.models import Membership, User
from tenant_apps.tokens.models import ApiToken
from tenants.conn import connection
from tenants.models import Tenant
from tenants.request_cache import request_cache_bump


@receiver([post_save, post_delete], sender=Tenant, dispatch_uid="api-request-cache-tenant")
def _tenant_changed(instance: Tenant, **_: Any) -> None:
    request_cache_bump(tenant_id=instance.pk)


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="api-request-cache-membership")
@receiver([post_save, post_delete], sender=Subscription, dispatch_uid="api-request-cache-subscription")
def _tenant_row_changed(instance: Membership | Subscription, **_: Any) -> None:
    if instance.tenant_id is not None:
        request_cache_bump(tenant_id=instance.tenant_id)


@receiver(post_save, sender=User, dispatch_uid="api-request-cache-user")
def _user_changed(instance: User, update_fields: Any = None, **_: Any) -> None:
    # A sign-in only records last_login: nothing the API caches about the user changes.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    for tenant_id in Membership.objects.filter(user_id=instance.pk).values_list("tenant_id", flat=True):
        request_cache_bump(tenant_id=tenant_id)


@receiver([post_save, post_delete], sender=ApiToken, dispatch_uid="api-request-cache-token")
def _token_changed(**_: Any) -> None:
    # Tokens live in the tenant's schema: the tenant is the connection's.
    tenant_id = getattr(connection.tenant, "pk", None)
    if tenant_id is None:
        tenant_id = Tenant.objects.filter(schema_name=connection.schema_name).values_list("pk", flat=True).first()
    if tenant_id is not None:
        request_cache_bump(tenant_id=tenant_id)
