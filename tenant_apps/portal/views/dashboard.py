"""The organization's dashboard: members, projects, plan, usage against limits, recent activity."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.selectors import billing_overview
from shared_apps.accounts.policies import ADMIN_ROLES
from shared_apps.accounts.selectors import membership_list
from tenant_apps.audit.selectors import audit_event_list
from tenant_apps.portal.access import portal_view
from tenant_apps.portal.views.common import meter, tenant_of
from tenant_apps.projects.policies import role_sees_all_projects
from tenant_apps.projects.selectors import project_count, project_list_visible
from tenants.base.request import tenant_request


@require_GET
@portal_view()
def dashboard_view(request: HttpRequest) -> HttpResponse:
    tenant = tenant_of(request)
    membership = tenant_request(request).membership
    ent = tenant_request(request).entitlements
    overview = billing_overview(tenant=tenant, entitlements=ent)
    members = list(membership_list(tenant_id=tenant.pk).order_by("user__email"))
    visible = project_list_visible(user=request.user, role=membership.role)  # type: ignore[arg-type]
    is_admin = membership.role in ADMIN_ROLES
    projects_total = project_count()
    context = {
        "members": members[:8],
        "member_total": len(members),
        "projects": list(visible.order_by("-created_at")[:8]),
        "project_visible_total": projects_total if role_sees_all_projects(role=membership.role) else visible.count(),
        "plan": overview.plan,
        "plan_code": ent.plan,
        "subscription": overview.subscription,
        "seats": meter(overview.seats_used, ent.seats),
        "project_meter": meter(projects_total, ent.projects),
        "api_requests_this_hour": overview.api_requests_this_hour,
        "api_rpm": ent.api_rpm,
        "events": list(audit_event_list()[:10]) if is_admin else [],
    }
    return render(request, "portal/dashboard.html", context)
