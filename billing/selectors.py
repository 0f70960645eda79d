"""Billing reads. `entitlements_for_tenant` is the one place the API asks what a tenant may do."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from tenants.models import Tenant, TenantStatus


@dataclass(frozen=True)
class Entitlements:
    plan: str
    seats: int | None  # None = unlimited
    projects: int | None
    api_rpm: int | None
    features: frozenset[str] = field(default_factory=frozenset)
    read_only: bool = False  # writes refused (suspended for non-payment)


def plan_catalog() -> dict[str, dict]:
    return settings.BILLING_PLANS


def plan_code_for_tenant(*, tenant: Tenant) -> str:
    """The tenant's current plan code. Until a subscription mirror exists: the default plan."""
    return settings.BILLING_DEFAULT_PLAN


def entitlements_for_tenant(*, tenant: Tenant) -> Entitlements:
    code = plan_code_for_tenant(tenant=tenant)
    plan = plan_catalog().get(code) or plan_catalog()[settings.BILLING_DEFAULT_PLAN]
    limits = plan["limits"]
    return Entitlements(
        plan=code,
        seats=limits.get("seats"),
        projects=limits.get("projects"),
        api_rpm=limits.get("api_rpm"),
        features=frozenset(plan.get("features", [])),
        read_only=tenant.status == TenantStatus.SUSPENDED,
    )
