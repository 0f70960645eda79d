"""The public host: landing page, signup (a new organization and its owner), and a sign-in that lists
the person's organizations. Entering an organization hands the person over to its host with a
single-use token (shared_apps.accounts.services.handoff_token_issue)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.selectors import plan_catalog
from shared_apps.accounts import pending
from shared_apps.accounts.forms import OtpForm, SignInForm
from shared_apps.accounts.models import User
from shared_apps.accounts.selectors import membership_get, tenants_for_user
from shared_apps.accounts.services import (
    InvalidCredentialsError,
    LoginThrottledError,
    OtpInvalidError,
    OtpRequiredError,
    account_event_record,
    handoff_token_issue,
    organization_provision,
    second_factor_verify,
    user_authenticate,
)
from shared_apps.public_site import services
from shared_apps.public_site.forms import SignupForm
from tenants.base.network import client_ip
from tenants.models import Tenant, TenantStatus
from tenants.selectors import tenant_by_slug, tenant_origin

_FIELD_OF_CODE = {"slug_taken": "slug", "name_invalid": "name"}


def _enter(request: HttpRequest, user: User, tenant: Tenant) -> HttpResponse:
    token = handoff_token_issue(user=user, tenant_id=tenant.pk)
    origin = tenant_origin(tenant=tenant, scheme=request.scheme or "http", port=request.get_port())
    response = HttpResponseRedirect(f"{origin}/handoff/?{urlencode({'token': token})}")
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def landing_view(request: HttpRequest) -> HttpResponse:
    return render(request, "public_site/landing.html", {"plans": plan_catalog()})


def _public_origin(request: HttpRequest) -> str:
    return f"{request.scheme or 'http'}://{request.get_host()}"


@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    """Create an organization. The answer never tells whether the email has an account (see
    shared_apps.public_site.services): only the right password of an existing account, which signs
    that account in, lands in the portal at once; every other valid request shows "check your inbox"."""
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            if not User.objects.filter(email__iexact=data["email"]).exists():
                if (limited := _mail_budget(request, data)) is not None:
                    return limited
                services.signup_request(
                    email=data["email"],
                    name=data["name"],
                    slug=data["slug"],
                    password=data["password"],
                    origin=_public_origin(request),
                )
                return _check_inbox(request, data)
            try:
                user = user_authenticate(request=request, email=data["email"], password=data["password"])
            except (InvalidCredentialsError, LoginThrottledError, OtpRequiredError, OtpInvalidError):
                # A two-factor account is never signed in by the signup form (no code is asked there):
                # it gets the same answer and the notice, and signs in at /signin/ to add organizations.
                if (limited := _mail_budget(request, data)) is not None:
                    return limited
                services.signup_existing_account_notice(
                    email=data["email"], name=data["name"], origin=_public_origin(request)
                )
                return _check_inbox(request, data)
            try:
                tenant = organization_provision(slug=data["slug"], name=data["name"], owner_email=user.email)
            except ValidationError as exc:
                _signup_error(form, exc)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return _enter(request, user, tenant)
    return render(request, "public_site/signup.html", {"form": form}, status=status)


def _signup_error(form: SignupForm, exc: ValidationError) -> None:
    field = _FIELD_OF_CODE.get(exc.code or "", "slug" if (exc.code or "").startswith("slug") else None)
    form.add_error(field, exc)


def _mail_budget(request: HttpRequest, data: dict) -> HttpResponse | None:
    """None when the signup page may mail `data["email"]` now; else the answer to give instead: the
    same "check your inbox" page (that address got enough mails already; nothing is sent) or a 429
    with Retry-After (this network asked for too many)."""
    verdict = services.signup_mail_budget_take(email=data["email"], ip=client_ip(request))
    if verdict == "address":
        return _check_inbox(request, data)
    if verdict == "network":
        response = render(request, "public_site/signup_limited.html", status=429)
        response["Retry-After"] = str(settings.SIGNUP_MAIL_WINDOW_HOURS * 3600)
        return response
    return None


def _check_inbox(request: HttpRequest, data: dict) -> HttpResponse:
    return render(request, "public_site/signup_sent.html", {"email": data["email"], "name": data["name"]})


@require_http_methods(["GET", "POST"])
def signup_confirm_view(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the confirmation mail. GET only shows a button (mail scanners follow links)."""
    pending = services.signup_pending_get(raw=token)
    if pending is None:
        return render(request, "public_site/signup_confirm.html", {"pending": None}, status=404)
    error = None
    if request.method == "POST":
        try:
            user, tenant = services.signup_confirm(pending=pending)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return _enter(request, user, tenant)
    return render(
        request, "public_site/signup_confirm.html", {"pending": pending, "error": error}, status=400 if error else 200
    )


def _next_path(request: HttpRequest) -> str:
    """Where to go after signing in: a local path given as ?next= (e.g. /finance/), else the list of
    organizations. Anything pointing off this host is ignored."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/organizations/"


@require_http_methods(["GET", "POST"])
def signin_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return HttpResponseRedirect(_next_path(request))
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST":
        user = form.authenticated_user(request=request)
        status = form.status
        if form.otp_user is not None:  # right password, two-factor on: ask for the code on the next page
            pending.pending_start(request=request, user=form.otp_user, next_url=_next_path(request), tenant_id=None)
            return HttpResponseRedirect("/signin/two-factor/")
        if user is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            account_event_record(request=request, user=user, action="auth.signed_in", data={"method": "password"})
            return HttpResponseRedirect(_next_path(request))
    next_path = _next_path(request)
    context = {"form": form, "next": "" if next_path == "/organizations/" else next_path}
    return form.finish(render(request, "public_site/signin.html", context, status=status))


@never_cache
@require_http_methods(["GET", "POST"])
def signin_two_factor_view(request: HttpRequest) -> HttpResponse:
    """The second step of the public sign-in (the password was right; the account has two-factor)."""
    found = pending.pending_user(request=request, tenant_id=None)
    if found is None:
        messages.error(request, "Your sign-in expired. Enter your email and password again.")
        return HttpResponseRedirect("/signin/")
    user, next_url = found
    form = OtpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                method = second_factor_verify(request=request, user=user, code=form.cleaned_data["code"])
            except LoginThrottledError as exc:
                form.add_error(None, exc)
                response = render(request, "public_site/signin_two_factor.html", {"form": form}, status=429)
                response["Retry-After"] = str(exc.retry_after)
                return response
            except OtpInvalidError as exc:
                form.add_error("code", exc)
                account_event_record(request=request, user=user, action="auth.two_factor_failed")
            else:
                pending.pending_clear(request=request)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                account_event_record(request=request, user=user, action="auth.signed_in", data={"method": method})
                return HttpResponseRedirect(next_url or "/organizations/")
    return render(request, "public_site/signin_two_factor.html", {"form": form}, status=status)


@require_GET
def organizations_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/signin/")
    memberships = [m for m in tenants_for_user(user=request.user) if m.tenant.status != TenantStatus.CLOSED]
    return render(request, "public_site/organizations.html", {"memberships": memberships})


@require_POST
def enter_view(request: HttpRequest, slug: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/signin/")
    tenant = tenant_by_slug(slug=slug)
    if tenant is None or tenant.status == TenantStatus.CLOSED:
        raise Http404()
    if membership_get(user=request.user, tenant_id=tenant.pk) is None:
        raise Http404()
    return _enter(request, request.user, tenant)


@require_POST
def signout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, "Signed out.")
    return HttpResponseRedirect("/")
