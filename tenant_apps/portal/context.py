"""Template context for every portal page: the organization, the member's role, the banners."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from shared_apps.accounts.policies import ADMIN_ROLES, BILLING_ROLES
from shared_apps.accounts.selectors import tenants_for_user
from tenant_apps.projects.policies import role_uses_projects
from tenants.models import TenantStatus


def portal(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    tenant = getattr(request, "tenant", None)
    if membership is None or tenant is None:
        return {"portal_tenant": tenant}
    return {
        "portal_tenant": tenant,
        "portal_membership": membership,
        "portal_is_admin": membership.role in ADMIN_ROLES,
        "portal_is_billing": membership.role in BILLING_ROLES,
        "portal_uses_projects": role_uses_projects(role=membership.role),
        "portal_banner": {
            TenantStatus.PAST_DUE: "past_due",
            TenantStatus.SUSPENDED: "read_only",
        }.get(tenant.status, ""),
        # Lazy: only evaluated when the page renders the organization switcher.
        "portal_other_orgs": lambda: [
            m.tenant
            for m in tenants_for_user(user=request.user)  # type: ignore[arg-type]
            if m.tenant_id != tenant.pk
        ],
    }
