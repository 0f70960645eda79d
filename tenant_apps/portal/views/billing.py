"""Billing (owners and the billing role): plan, status, seats, usage, invoices; Checkout and the portal."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import gateway, plan_change, selectors, services
from shared_apps.accounts.policies import BILLING_ROLES
from tenant_apps.portal.access import portal_view
from tenant_apps.portal.forms import PlanForm
from tenant_apps.portal.views.common import first_message, meter, tenant_of
from tenants.base.request import tenant_request

UNAVAILABLE = "Billing is temporarily unavailable. Try again in a moment."


@require_GET
@portal_view(roles=BILLING_ROLES)
def billing_view(request: HttpRequest) -> HttpResponse:
    tenant = tenant_of(request)
    ent = tenant_request(request).entitlements
    overview = selectors.billing_overview(tenant=tenant, entitlements=ent)
    catalog = selectors.plan_catalog()
    subscription = overview.subscription
    checkout = request.GET.get("checkout")
    # Paid once the mirror has a live subscription on a paid plan. The subscription row can reach the
    # mirror a moment before its price does (Checkout's events arrive in any order), so a subscription
    # alone is not enough to stop waiting.
    paid = subscription is not None and ent.plan != settings.BILLING_DEFAULT_PLAN
    if checkout == "success" and paid:
        messages.success(request, "Thank you! Stripe confirmed the payment: your new plan is active.")
    elif checkout == "success":
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
    # Back from Checkout or a plan change: the page waits (billing.js polls /billing/status/) until the
    # webhook has gone through, instead of showing the old plan until a manual reload.
    wait_for = ""
    if checkout == "success" and not paid:
        wait_for = "subscribed"
    changed = request.GET.get("changed", "")
    if changed in catalog and subscription is not None:
        if changed == settings.BILLING_DEFAULT_PLAN and not subscription.cancel_at_period_end:
            wait_for = "cancel"
        elif changed != ent.plan and catalog[changed].get("unit_amount"):
            wait_for = f"plan:{changed}"
    context = {
        "wait_for": wait_for,
        "show_status": subscription is not None or tenant.status not in ("trialing", "active"),
        "plan": overview.plan,
        "plan_code": ent.plan,
        "plans": plans,
        "subscription": subscription,
        "seats": meter(overview.seats_used, ent.seats),
        "api_requests_this_hour": overview.api_requests_this_hour,
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


@never_cache
@require_GET
@portal_view(roles=BILLING_ROLES)
def billing_status_view(request: HttpRequest) -> HttpResponse:
    """What billing.js polls while the page waits for Stripe's webhook (small, never cached)."""
    subscription = selectors.subscription_for_tenant(tenant=tenant_of(request))
    ent = tenant_request(request).entitlements
    return JsonResponse(
        {
            "plan": ent.plan,
            "plan_name": selectors.plan_catalog().get(ent.plan, {}).get("name", ent.plan),
            "subscribed": subscription is not None,
            "paid": subscription is not None and ent.plan != settings.BILLING_DEFAULT_PLAN,
            "cancel_at_period_end": bool(subscription and subscription.cancel_at_period_end),
        }
    )


@never_cache
@require_http_methods(["GET", "POST"])
@portal_view(roles=BILLING_ROLES)
def plan_change_view(request: HttpRequest) -> HttpResponse:
    """GET: what the change to ?plan= will charge now (Stripe's invoice preview) and when it takes
    effect; POST: make it (billing.plan_change)."""
    tenant = tenant_of(request)
    form = PlanForm(request.POST or request.GET)
    if not form.is_valid():
        messages.error(request, "Choose a plan.")
        return HttpResponseRedirect("/billing/")
    code = form.cleaned_data["plan"]
    try:
        if request.method == "POST":
            plan_change.plan_change_apply(tenant=tenant, plan_code=code)
            return HttpResponseRedirect(f"/billing/?changed={code}")
        preview = plan_change.plan_change_preview(tenant=tenant, plan_code=code)
    except ValidationError as exc:
        messages.error(request, first_message(exc))
        return HttpResponseRedirect("/billing/")
    except gateway.GatewayError:
        messages.error(request, UNAVAILABLE)
        return HttpResponseRedirect("/billing/")
    subscription = selectors.subscription_for_tenant(tenant=tenant)
    current = selectors.plan_catalog().get(subscription.plan_code if subscription else "", {})
    return render(
        request,
        "portal/billing_change.html",
        {"preview": preview, "current": current, "subscription": subscription},
    )
