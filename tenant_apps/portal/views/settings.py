"""Organization settings (owners and admins): the name; the domains are shown."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from shared_apps.accounts.policies import ADMIN_ROLES
from shared_apps.accounts.selectors import two_factor_required
from tenant_apps.portal.access import portal_view
from tenant_apps.portal.forms import CorsOriginsForm, OrganizationForm
from tenant_apps.portal.services import organization_rename
from tenant_apps.portal.views.common import actor, apply_errors, tenant_of
from tenants.base.api.cors import cors_origins_list, cors_origins_set


@require_http_methods(["GET", "POST"])
@portal_view(roles=ADMIN_ROLES)
def settings_view(request: HttpRequest) -> HttpResponse:
    tenant = tenant_of(request)
    cors_post = request.method == "POST" and request.POST.get("section") == "cors"
    form = OrganizationForm(None if cors_post else (request.POST or None), initial={"name": tenant.name})
    cors_form = CorsOriginsForm(
        request.POST if cors_post else None, initial={"origins": "\n".join(cors_origins_list(tenant=tenant))}
    )
    status = 200
    if cors_post:
        status = 400
        if cors_form.is_valid():
            try:
                cors_origins_set(
                    actor=actor(request), tenant=tenant, origins=cors_form.cleaned_data["origins"].splitlines()
                )
            except ValidationError as exc:
                cors_form.add_error("origins", exc)
            else:
                messages.success(request, "Allowed origins saved.")
                return HttpResponseRedirect("/settings/")
    elif request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                organization_rename(actor=actor(request), tenant=tenant, name=form.cleaned_data["name"])
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, "Organization settings saved.")
                return HttpResponseRedirect("/settings/")
    context = {
        "form": form,
        "cors_form": cors_form,
        "domains": tenant.domains.order_by("-is_primary", "domain"),
        "two_factor_required": two_factor_required(tenant_id=tenant.pk),
    }
    return render(request, "portal/settings.html", context, status=status)
