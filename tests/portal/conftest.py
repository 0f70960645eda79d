"""Portal test helpers: a browser-like client on a tenant host, signed in the way the portal signs in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.billing.support import _stripe_settings, standin

__all__ = ["_stripe_settings", "standin"]


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
