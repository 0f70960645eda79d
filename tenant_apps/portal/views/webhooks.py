"""Outgoing webhooks in the portal (owners and admins): endpoints, their secret (shown once), rotation,
test events and the delivery log with "send again". Same services as the API."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from shared_apps.accounts.policies import ADMIN_ROLES
from tenant_apps.outgoing import selectors, services
from tenant_apps.outgoing.events import ALL_TYPES, EVENT_TYPES
from tenant_apps.outgoing.models import WebhookEndpoint
from tenant_apps.portal.access import portal_view
from tenant_apps.portal.views.common import actor, apply_errors, first_message

EVENT_CHOICES = [(ALL_TYPES, "All events"), *[(t, t) for t in EVENT_TYPES]]


class EndpointForm(forms.Form):
    url = forms.CharField(max_length=2000, label="URL", help_text="Where events are POSTed (https).")
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple, label="Events", initial=[ALL_TYPES]
    )
    enabled = forms.BooleanField(required=False, initial=True)


class RotateForm(forms.Form):
    overlap_hours = forms.IntegerField(
        min_value=0,
        max_value=168,
        initial=24,
        label="Keep the old secret signing for (hours)",
        help_text="Both secrets sign during this time (0 = stop at once).",
    )


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404()
    return endpoint


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@portal_view(roles=ADMIN_ROLES)
def webhooks_view(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    status, created = 200, None
    if request.method == "POST":
        if form.is_valid():
            try:
                created = services.endpoint_create(actor=actor(request), **form.cleaned_data)
            except ValidationError as exc:
                apply_errors(form, exc)
        if created is None:
            status = 400
        else:
            messages.success(request, "Endpoint added. Copy its signing secret now: it is shown only once.")
            form, status = EndpointForm(), 201
    context = {
        "form": form,
        "endpoints": selectors.endpoint_list(),
        "created": created[0] if created else None,
        "created_secret": created[1] if created else None,
    }
    return _no_store(render(request, "portal/webhooks.html", context, status=status))


def _detail(
    request: HttpRequest,
    endpoint: WebhookEndpoint,
    *,
    form: EndpointForm | None = None,
    status: int = 200,
    secret: str | None = None,
) -> HttpResponse:
    form = form or EndpointForm(
        initial={
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": endpoint.event_types,
            "enabled": endpoint.enabled,
        }
    )
    page = Paginator(selectors.delivery_list(endpoint=endpoint), 25).get_page(request.GET.get("page"))
    context = {"endpoint": endpoint, "form": form, "rotate_form": RotateForm(), "page": page, "new_secret": secret}
    return _no_store(render(request, "portal/webhook_detail.html", context, status=status))


@require_http_methods(["GET", "POST"])
@portal_view(roles=ADMIN_ROLES)
def webhook_detail_view(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(endpoint_id)
    if request.method == "GET":
        return _detail(request, endpoint)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = services.endpoint_update(actor=actor(request), endpoint=endpoint, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            return HttpResponseRedirect(f"/webhooks/{endpoint.pk}/")
    return _detail(request, endpoint, form=form, status=400)


@require_POST
@portal_view(roles=ADMIN_ROLES)
def webhook_rotate_view(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(endpoint_id)
    form = RotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose between 0 and 168 hours.")
        return HttpResponseRedirect(f"/webhooks/{endpoint.pk}/")
    endpoint, secret = services.endpoint_rotate_secret(
        actor=actor(request), endpoint=endpoint, overlap_seconds=form.cleaned_data["overlap_hours"] * 3600
    )
    messages.success(request, "New signing secret created. Copy it now: it is shown only once.")
    return _detail(request, endpoint, secret=secret)


@require_POST
@portal_view(roles=ADMIN_ROLES)
def webhook_test_view(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(endpoint_id)
    services.endpoint_send_test(actor=actor(request), endpoint=endpoint)
    messages.success(request, "Test event queued. It appears in the delivery log below.")
    return HttpResponseRedirect(f"/webhooks/{endpoint.pk}/")


@require_POST
@portal_view(roles=ADMIN_ROLES)
def webhook_delete_view(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(endpoint_id)
    try:
        services.endpoint_delete(actor=actor(request), endpoint=endpoint)
    except ValidationError as exc:
        messages.error(request, first_message(exc))
        return HttpResponseRedirect(f"/webhooks/{endpoint.pk}/")
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return HttpResponseRedirect("/webhooks/")


@require_POST
@portal_view(roles=ADMIN_ROLES)
def webhook_resend_view(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(endpoint_id)
    delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    if delivery is None:
        raise Http404()
    services.delivery_resend(actor=actor(request), delivery=delivery)
    messages.success(request, f"Event {delivery.event.event_id} queued again.")
    return HttpResponseRedirect(f"/webhooks/{endpoint.pk}/")


urlpatterns = [
    path("webhooks/", webhooks_view, name="portal-webhooks"),
    path("webhooks/<id:endpoint_id>/", webhook_detail_view, name="portal-webhook"),
    path("webhooks/<id:endpoint_id>/rotate/", webhook_rotate_view, name="portal-webhook-rotate"),
    path("webhooks/<id:endpoint_id>/test/", webhook_test_view, name="portal-webhook-test"),
    path("webhooks/<id:endpoint_id>/delete/", webhook_delete_view, name="portal-webhook-delete"),
    path(
        "webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/resend/",
        webhook_resend_view,
        name="portal-webhook-resend",
    ),
]
