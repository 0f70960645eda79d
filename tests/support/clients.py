"""Test clients and addresses: a client on a tenant's host (API or portal), on the public host, and the
test database's URL. Plain helpers, imported by tests and conftests alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import Client

from shared_apps.accounts.models import User
from tenant_apps.portal.access import SESSION_TENANT_KEY
from tenants.models import Tenant

ROOT = Path(__file__).resolve().parent.parent.parent


def host_of(tenant: Tenant) -> str:
    return f"{tenant.slug}.{settings.TENANT_BASE_DOMAIN}"


def tenant_client(tenant: Tenant, user: User | None = None) -> Client:
    """A test client that talks to `tenant`'s host, optionally signed in as `user`."""
    client = Client(HTTP_HOST=host_of(tenant))
    if user is not None:
        client.force_login(user)
    return client


def portal_client(tenant: Tenant, user: User | None = None, **kwargs: Any) -> Client:
    """A client on `tenant`'s host; with `user`, signed in to this organization's portal."""
    client = Client(HTTP_HOST=host_of(tenant), **kwargs)
    if user is not None:
        client.force_login(user)
        session = client.session
        session[SESSION_TENANT_KEY] = tenant.pk
        session.save()
    return client


def public_client(**kwargs: Any) -> Client:
    return Client(HTTP_HOST="localhost", **kwargs)


def database_url() -> str:
    """The test database's URL (for processes the tests start: a Celery worker, a server)."""
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
