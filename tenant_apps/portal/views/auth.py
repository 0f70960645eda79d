"""Sign in, sign out, cross-host hand-off and organization switching on a tenant host."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shared_apps.accounts import pending
from shared_apps.accounts.forms import SignInForm
from shared_apps.accounts.selectors import membership_get
from shared_apps.accounts.services import handoff_token_issue, handoff_token_redeem
from tenant_apps.portal.access import portal_login, portal_view, signed_in_member
from tenant_apps.portal.account import sign_in_record
from tenants.base.api.context import actor_of, tenant_of
from tenants.models import TenantStatus
from tenants.selectors import tenant_by_slug, tenant_origin


def _safe_next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def public_signin_url(request: HttpRequest) -> str:
    """The public host's sign-in, which lists every organization a person belongs to."""
    port = request.get_port()
    suffix = f":{port}" if port and port not in {"80", "443"} else ""
    return f"{request.scheme or 'http'}://{settings.TENANT_BASE_DOMAIN}{suffix}/signin/"


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    tenant = tenant_of(request)
    if signed_in_member(request) is not None:
        return HttpResponseRedirect(_safe_next(request))
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST":
        # Only members sign in here; anyone else gets the wrong-password answer (and it counts as a failure).
        user = form.authenticated_user(request=request, tenant_id=tenant.pk)
        status = form.status
        if form.otp_user is not None:  # right password, two-factor on: the second step (views/account.py)
            pending.pending_start(
                request=request, user=form.otp_user, next_url=_safe_next(request), tenant_id=tenant.pk
            )
            return HttpResponseRedirect("/login/two-factor/")
        if user is not None:
            portal_login(request, user)
            sign_in_record(actor=actor_of(request), user=user, method="password")
            messages.success(request, "Signed in.")
            return HttpResponseRedirect(_safe_next(request))
    response = render(
        request,
        "portal/login.html",
        {"form": form, "next": _safe_next(request, default=""), "public_signin_url": public_signin_url(request)},
        status=status,
    )
    return form.finish(response)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, "Signed out.")
    return HttpResponseRedirect("/login/")


@require_GET
def handoff_view(request: HttpRequest) -> HttpResponse:
    """Land here from the public host (signup, sign-in) or another organization (switch)."""
    user = handoff_token_redeem(raw=request.GET.get("token", ""), tenant_id=tenant_of(request).pk)
    if user is None:
        messages.error(request, "That sign-in link is invalid or has expired. Sign in with your password.")
        return HttpResponseRedirect("/login/")
    portal_login(request, user)
    sign_in_record(actor=actor_of(request), user=user, method="handoff")
    response = HttpResponseRedirect("/")
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@portal_view()
def switch_view(request: HttpRequest, slug: str) -> HttpResponse:
    target = tenant_by_slug(slug=slug)
    if target is None or target.status == TenantStatus.CLOSED:
        raise Http404()
    if membership_get(user=request.user, tenant_id=target.pk) is None:  # type: ignore[arg-type]
        raise Http404()
    token = handoff_token_issue(user=request.user, tenant_id=target.pk)  # type: ignore[arg-type]
    origin = tenant_origin(tenant=target, scheme=request.scheme or "http", port=request.get_port())
    return HttpResponseRedirect(f"{origin}/handoff/?{urlencode({'token': token})}")
