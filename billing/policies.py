"""Billing decides whether an organization may write: one place for the rule that a suspended or
past-grace organization is read-only (used by every service that writes tenant data; the API's
permission class answers the same 402 before a view runs)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from billing.selectors import Entitlements, entitlements_for_tenant
from tenants.conn import connection
from tenants.models import Tenant

READ_ONLY_MESSAGE = "This organization is read-only until its billing is settled."


def tenant_ensure_writable(*, tenant: Tenant | None = None, entitlements: Entitlements | None = None) -> None:
    """Raise ValidationError(code="tenant_read_only", HTTP 402 in the API) when the organization may not
    write. `tenant` defaults to the active schema's (a task or shell under schema_context has no Tenant
    row on the connection); `entitlements`, when the caller has them already (the API request), saves the
    lookup."""
    if entitlements is None:
        entitlements = entitlements_for_tenant(tenant=tenant if tenant is not None else _active_tenant())
    if entitlements.read_only:
        raise ValidationError(READ_ONLY_MESSAGE, code="tenant_read_only")


def _active_tenant() -> Tenant:
    tenant = connection.tenant
    if not isinstance(tenant, Tenant):  # a schema_context (tasks, shells) carries no Tenant row
        tenant = Tenant.objects.get(schema_name=connection.schema_name)
    return tenant
