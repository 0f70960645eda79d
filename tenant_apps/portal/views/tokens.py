"""Personal API tokens for this organization: create (shown once), list, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from tenant_apps.portal.access import portal_view
from tenant_apps.portal.forms import TokenForm
from tenant_apps.portal.views.common import actor
from tenant_apps.tokens.selectors import api_token_list
from tenant_apps.tokens.services import api_token_create, api_token_revoke


@require_http_methods(["GET", "POST"])
@portal_view()
def tokens_view(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    created_secret = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            _, created_secret = api_token_create(
                actor=actor(request),
                user=request.user,  # type: ignore[arg-type]
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
                scopes=[form.cleaned_data["scope"]] if form.cleaned_data["scope"] else None,
            )
            messages.success(request, "Token created. Copy it now: it is shown only once.")
            form = TokenForm()
            status = 201
        else:
            status = 400
    context = {
        "form": form,
        "created_secret": created_secret,
        "tokens": api_token_list(user=request.user),  # type: ignore[arg-type]
    }
    response = render(request, "portal/tokens.html", context, status=status)
    if created_secret:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@portal_view()
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = api_token_list(user=request.user).filter(pk=token_id).first()  # type: ignore[arg-type]
    if token is None:
        raise Http404()
    api_token_revoke(actor=actor(request), token=token)
    messages.success(request, f"Token {token.name or token.prefix} revoked.")
    return HttpResponseRedirect("/tokens/")
