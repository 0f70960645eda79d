"""The audit log (owners and admins), filtered by actor, action and dates."""

from __future__ import annotations

from http import HTTPStatus

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from shared_apps.accounts.policies import ADMIN_ROLES
from tenant_apps.audit.selectors import audit_event_list
from tenant_apps.portal.access import portal_view
from tenant_apps.portal.filters import PortalAuditFilter


@require_GET
@portal_view(roles=ADMIN_ROLES)
def audit_view(request: HttpRequest) -> HttpResponse:
    filtered = PortalAuditFilter(request.GET or None, queryset=audit_event_list())
    status = 200 if filtered.is_bound is False or filtered.is_valid() else 400
    events = filtered.qs if status == HTTPStatus.OK else audit_event_list().none()
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter": filtered,
        "form": filtered.form,
        "events": page.object_list,
        "page": page,
        "query": query.urlencode(),
    }
    return render(request, "portal/audit.html", context, status=status)
