"""Portal test helpers: a browser-like client on a tenant host, signed in the way the portal signs in."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from shared_apps.accounts.models import User
from tenant_apps.portal.access import SESSION_TENANT_KEY
from tenants.models import Tenant
from tests.billing.support import _stripe_settings, standin
from tests.conftest import host_of

__all__ = ["_stripe_settings", "standin"]


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


@pytest.fixture(autouse=True)
def _generous_plan(settings: Any) -> None:
    """Unlimited seats and projects unless a test narrows them (as in the API tests)."""
    settings.BILLING_PLANS = {
        **settings.BILLING_PLANS,
        "test": {
            "name": "Test",
            "lookup_key": "tenantry_test_monthly",
            "unit_amount": 0,
            "currency": "usd",
            "limits": {"seats": None, "projects": None, "api_rpm": 100_000},
            "features": [],
        },
    }
    settings.BILLING_DEFAULT_PLAN = "test"
