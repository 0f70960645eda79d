"""Reads about tenants."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from tenants.models import Tenant


def tenant_get(*, slug: str) -> Tenant:
    return Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).get(slug=slug)


def tenant_list() -> QuerySet[Tenant]:
    return Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)


def schema_exists(*, schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        return cursor.fetchone() is not None


def tenant_origin(*, tenant: Tenant, scheme: str = "http", port: str | int | None = None) -> str:
    """The origin of a tenant's primary host, keeping a non-default port (e.g. http://acme.localhost:8000)."""
    domain = tenant.get_primary_domain()
    host = domain.domain if domain is not None else f"{tenant.slug}.{settings.TENANT_BASE_DOMAIN}"
    default_port = {"http": "80", "https": "443"}.get(scheme)
    suffix = f":{port}" if port and str(port) != default_port else ""
    return f"{scheme}://{host}{suffix}"


def tenant_by_slug(*, slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug).first()
