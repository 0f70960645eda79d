"""Keeps the API's request cache honest (tenants.base.request_cache, D120): a token created, revoked or
deleted -> its organization re-reads tokens on the next request. Not business logic."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenant_apps.tokens.models import ApiToken
from tenants.base.request_cache import request_cache_bump
from tenants.conn import connection
from tenants.models import Tenant


@receiver([post_save, post_delete], sender=ApiToken, dispatch_uid="api-request-cache-token")
def _token_changed(**_: Any) -> None:
    # Tokens live in the tenant's schema: the tenant is the connection's.
    tenant_id = getattr(connection.tenant, "pk", None)
    if tenant_id is None:
        tenant_id = Tenant.objects.filter(schema_name=connection.schema_name).values_list("pk", flat=True).first()
    if tenant_id is not None:
        request_cache_bump(tenant_id=tenant_id)
