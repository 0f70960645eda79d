"""One billing overview (billing.selectors.billing_overview): the dashboard, the billing page and the API
show the same seats, the number Stripe bills (billing.selectors.seat_count)."""

from __future__ import annotations

from typing import Any

import pytest

from shared_apps.accounts.models import Membership, Role
from tests.support.clients import portal_client, tenant_client

pytestmark = pytest.mark.django_db


def test_dashboard_billing_page_and_api_agree_on_seats(tenant_a: Any, owner_a: Any, member_factory: Any) -> None:
    member_factory(tenant_a, Role.MEMBER)
    member_factory(tenant_a, Role.BILLING)
    members = Membership.objects.filter(tenant=tenant_a).count()
    portal = portal_client(tenant_a, owner_a)

    dashboard = portal.get("/")
    billing_page = portal.get("/billing/")
    api = tenant_client(tenant_a, owner_a).get("/api/v1/billing/")

    assert dashboard.status_code == billing_page.status_code == api.status_code == 200
    assert dashboard.context["seats"] == billing_page.context["seats"]
    assert dashboard.context["seats"]["used"] == api.json()["seats"]["used"] == members >= 3
    assert dashboard.context["seats"]["limit"] == api.json()["seats"]["limit"]
