"""Billing decides whether an organization may write: one place for the rule that a suspended or
past-grace organization is read-only (used by every service that writes tenant data; the API's
permission class answers the same 402 before a view runs)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from billing.selectors import entitlements_for_tenant
from tenants.models import Tenant

READ_ONLY_MESSAGE = "This organization is read-only until its billing is settled."


def tenant_ensure_writable(*, tenant: Tenant) -> None:
    """Raise ValidationError(code="tenant_read_only") when the organization may not write."""
    if entitlements_for_tenant(tenant=tenant).read_only:
        raise ValidationError(READ_ONLY_MESSAGE, code="tenant_read_only")
