"""Portal writes that are not already another app's service."""

from __future__ import annotations

from django.db import transaction

from billing.policies import tenant_ensure_writable
from tenant_apps.audit.services import audit_event_record
from tenants.base.actor import Actor
from tenants.models import Tenant
from tenants.services import tenant_rename


@transaction.atomic
def organization_rename(*, actor: Actor, tenant: Tenant, name: str) -> Tenant:
    tenant_ensure_writable(tenant=tenant)
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
