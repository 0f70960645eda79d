"""Who may open a portal page. Every portal view is wrapped by `portal_view`:

- anonymous (or signed in on another organization's session) → the sign-in page;
- signed in but not a member of this organization → 404, as if the page did not exist;
- a member whose role is not allowed → 403 page, nothing done;
- otherwise the view runs with `request.membership` and `request.entitlements` set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from billing.selectors import entitlements_for_tenant
from shared_apps.accounts.models import Membership
from shared_apps.accounts.selectors import membership_get
from tenants.base.request import tenant_request

SESSION_TENANT_KEY = "portal_tenant_id"

View = Callable[..., HttpResponse]


def portal_login(request: HttpRequest, user: Any) -> None:
    """Sign `user` in on this tenant host; the session is bound to this organization."""
    from django.contrib.auth import login

    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_TENANT_KEY] = tenant_request(request).tenant.pk


def signed_in_member(request: HttpRequest) -> Membership | None:
    """This organization's membership of the signed-in user (None when anonymous or not a member)."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or not request.user.is_authenticated:
        return None
    if request.session.get(SESSION_TENANT_KEY) != tenant.pk:
        return None
    return membership_get(user=request.user, tenant_id=tenant.pk)


def _to_login(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/login/?" + urlencode({"next": request.get_full_path()}))


TWO_FACTOR_PAGE = "/account/two-factor/"


def two_factor_missing(request: HttpRequest, tenant_id: int) -> bool:
    """This organization requires two-factor and the signed-in member has none (the grace page applies)."""
    from shared_apps.accounts.selectors import two_factor_enabled, two_factor_required

    return two_factor_required(tenant_id=tenant_id) and not two_factor_enabled(user=request.user)  # type: ignore[arg-type]


def portal_view(roles: Iterable[str] | None = None, *, two_factor_exempt: bool = False) -> Callable[[View], View]:
    """`two_factor_exempt`: the view stays open to a member who must still enrol in two-factor (the
    grace page); every other view sends them there."""
    allowed = frozenset(roles) if roles is not None else None

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            tenant = getattr(request, "tenant", None)
            if tenant is None:
                raise Http404()
            if not request.user.is_authenticated:
                return _to_login(request)
            if request.session.get(SESSION_TENANT_KEY) != tenant.pk:
                logout(request)  # a session from elsewhere: start over on this host
                return _to_login(request)
            membership = membership_get(user=request.user, tenant_id=tenant.pk)
            if membership is None:
                raise Http404()
            tenant_request(request).membership = membership
            tenant_request(request).entitlements = entitlements_for_tenant(tenant=tenant)
            if not two_factor_exempt and two_factor_missing(request, tenant.pk):
                return HttpResponseRedirect(TWO_FACTOR_PAGE)
            if allowed is not None and membership.role not in allowed:
                return render(request, "portal/forbidden.html", status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
