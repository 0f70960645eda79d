"""Portal writes that are not already another app's service."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from billing.selectors import entitlements_for_tenant
from tenant_apps.audit.services import Actor, audit_event_record
from tenants.models import Tenant
from tenants.services import tenant_rename


@transaction.atomic
def organization_rename(*, actor: Actor, tenant: Tenant, name: str) -> Tenant:
    if entitlements_for_tenant(tenant=tenant).read_only:
        raise ValidationError("This organization is read-only until its billing is settled.", code="tenant_read_only")
    old = tenant.name
    tenant = tenant_rename(tenant=tenant, name=name)
    if tenant.name != old:
        audit_event_record(
            actor=actor,
            action="organization.renamed",
            target_type="organization",
            target_id=tenant.pk,
            data={"from": old, "to": tenant.name},
        )
    return tenant
