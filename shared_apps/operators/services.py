"""Platform operators' lifecycle actions on an organization (suspend, reactivate, close).

The Django admin and `manage.py tenant` both come through here: the status changes through the
tenants services (which check the transition), and the change is written to the organization's own
audit log in the same transaction, with who did it and from where (`via`: "admin" or "cli").
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from shared_apps.accounts.models import User
from tenant_apps.audit.services import audit_event_record
from tenants.base.actor import Actor
from tenants.models import Tenant
from tenants.routing import tenant_write_context
from tenants.services import tenant_close, tenant_reactivate, tenant_suspend

LIFECYCLE_ACTIONS: dict[str, tuple[Callable[..., Tenant], str]] = {
    "suspend": (tenant_suspend, "organization.suspended"),
    "reactivate": (tenant_reactivate, "organization.reactivated"),
    "close": (tenant_close, "organization.closed"),
}


@transaction.atomic
def organization_lifecycle_change(
    *,
    tenant: Tenant,
    action: str,
    via: str,
    operator: User | None = None,
    operator_name: str = "",
    ip: str | None = None,
) -> Tenant:
    """Apply `action` ("suspend", "reactivate" or "close"); raises ValidationError on a refused
    transition (nothing written). An action that changes nothing (already in that status) is not audited."""
    service, audit_action = LIFECYCLE_ACTIONS[action]
    before = tenant.status
    tenant = service(tenant=tenant)
    if tenant.status != before:
        who = operator.email if operator is not None else operator_name
        with tenant_write_context(tenant):  # its shard's schema (tenants/routing.py)
            audit_event_record(
                actor=Actor(user=operator, ip=ip),
                action=audit_action,
                target_type="organization",
                target_id=tenant.pk,
                data={"from": before, "to": tenant.status, "via": via, "operator": who},
            )
    return tenant
