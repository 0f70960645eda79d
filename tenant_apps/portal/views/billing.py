"""Billing (owners and the billing role): plan, status, seats, usage, invoices; Checkout and the portal."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from billing import gateway, selectors, services
from billing.usage import usage_current_hour
from tenant_apps.portal.access import BILLING_ROLES, portal_view
from tenant_apps.portal.forms import PlanForm
from tenant_apps.portal.views.common import first_message, meter, tenant_of

UNAVAILABLE = "Billing is temporarily unavailable. Try again in a moment."


@require_GET
@portal_view(roles=BILLING_ROLES)
def billing_view(request: HttpRequest) -> HttpResponse:
    tenant = tenant_of(request)
    ent = request.entitlements  # type: ignore[attr-defined]
    catalog = selectors.plan_catalog()
    subscription = selectors.subscription_for_tenant(tenant=tenant)
    checkout = request.GET.get("checkout")
    if checkout == "success":
        messages.success(request, "Thank you! Your plan changes as soon as Stripe confirms the payment.")
    elif checkout == "cancel":
        messages.info(request, "Checkout cancelled; nothing changed.")
    plans = [
        {
            "code": code,
            "name": plan["name"],
            "price": plan.get("unit_amount", 0) / 100,
            "currency": plan.get("currency", "usd").upper(),
            "limits": plan["limits"],
            "features": plan.get("features", []),
            "current": code == ent.plan,
        }
        for code, plan in catalog.items()
    ]
    context = {
        "plan": catalog.get(ent.plan, {}),
        "plan_code": ent.plan,
        "plans": plans,
        "subscription": subscription,
        "seats": meter(services.seat_count(tenant_id=tenant.pk), ent.seats),
        "api_requests_this_hour": usage_current_hour(tenant.pk),
        "api_rpm": ent.api_rpm,
        "invoices": selectors.invoices_for_tenant(tenant=tenant)[:50],
        "notices": selectors.billing_notices_for_tenant(tenant=tenant),
    }
    return render(request, "portal/billing.html", context)


@require_POST
@portal_view(roles=BILLING_ROLES)
def checkout_view(request: HttpRequest) -> HttpResponse:
    form = PlanForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a plan.")
        return HttpResponseRedirect("/billing/")
    try:
        url = services.checkout_start(
            tenant=tenant_of(request), plan_code=form.cleaned_data["plan"], host=request.get_host()
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
        return HttpResponseRedirect("/billing/")
    except gateway.GatewayError:
        messages.error(request, UNAVAILABLE)
        return HttpResponseRedirect("/billing/")
    return HttpResponseRedirect(url)


@require_POST
@portal_view(roles=BILLING_ROLES)
def customer_portal_view(request: HttpRequest) -> HttpResponse:
    try:
        url = services.portal_start(tenant=tenant_of(request), host=request.get_host())
    except gateway.GatewayError:
        messages.error(request, UNAVAILABLE)
        return HttpResponseRedirect("/billing/")
    return HttpResponseRedirect(url)
