"""Reads about tenants."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from tenants.models import SpareSchema, Tenant


def tenant_get(*, slug: str) -> Tenant:
    return Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).get(slug=slug)


def tenant_list() -> QuerySet[Tenant]:
    return Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)


def spare_schema_count() -> int:
    return SpareSchema.objects.count()


def schema_exists(*, schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        return cursor.fetchone() is not None


def tenant_primary_url(*, tenant: Tenant, port: int | None = None) -> str:
    domain = tenant.get_primary_domain()
    host = domain.domain if domain is not None else f"{tenant.slug}.{settings.TENANT_BASE_DOMAIN}"
    return f"http://{host}:{port}/" if port else f"http://{host}/"
