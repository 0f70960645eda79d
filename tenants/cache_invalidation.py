"""Cache invalidation receivers. Not business logic: they only keep the resolution cache and the API's
request cache (tenants.base.request_cache, D120) honest. Each app connects the receivers for its own models."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenants.base.request_cache import request_cache_bump
from tenants.models import Domain, Tenant
from tenants.resolution import resolution_cache_invalidate


@receiver([post_save, post_delete], sender=Tenant, dispatch_uid="tenants-resolution-tenant")
@receiver([post_save, post_delete], sender=Domain, dispatch_uid="tenants-resolution-domain")
def _invalidate(**_: object) -> None:
    resolution_cache_invalidate()
    # Again after commit: another process may have re-read the old row between save and commit.
    transaction.on_commit(resolution_cache_invalidate)


@receiver([post_save, post_delete], sender=Tenant, dispatch_uid="api-request-cache-tenant")
def _tenant_changed(instance: Tenant, **_: Any) -> None:
    request_cache_bump(tenant_id=instance.pk)
