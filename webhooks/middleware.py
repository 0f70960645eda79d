"""The Stripe webhook's own path through Django (D113): first in MIDDLEWARE, it answers
POST /webhooks/stripe/ on a public host itself, so the request skips what that endpoint never uses:
tenant resolution by host lookup, CORS, API usage metering, static files, CSP, sessions, CSRF (the view
is csrf_exempt anyway), authentication, session activity, messages and clickjacking headers.

What stays: Django's request handling (ALLOWED_HOSTS, the request signals that recycle database
connections), the request context (request id header, the `http_requests` counter, the request log
line) and the view itself, with its signature check, size and depth limits and 4xx answers unchanged.
Any other path, a tenant's host (where the URL does not exist: 404 as before) or a host Django refuses
goes down the full stack as before."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import set_urlconf
from django_tenants.utils import get_public_schema_name, remove_www

from tenants.base.observability import RequestContextMiddleware
from tenants.base.request import tenant_request

WEBHOOK_PATH = "/webhooks/stripe/"


class StripeWebhookFastPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.handle = RequestContextMiddleware(self._webhook)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info != WEBHOOK_PATH:
            return self.get_response(request)
        try:
            hostname = remove_www(request.get_host().split(":")[0])
        except DisallowedHost:
            return self.get_response(request)
        if hostname not in settings.TENANT_PUBLIC_HOSTS:
            return self.get_response(request)
        return self.handle(request)

    @staticmethod
    def _webhook(request: HttpRequest) -> HttpResponse:
        from webhooks.views import stripe_webhook

        # A tenant request before this one may have left its schema. Switching only when needed keeps
        # django-tenants from sending `SET search_path` again on every request (TENANT_LIMIT_SET_CALLS).
        if connection.schema_name != get_public_schema_name():  # type: ignore[attr-defined]
            connection.set_schema_to_public()  # type: ignore[attr-defined]
        tenant_request(request).tenant = None
        request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
        set_urlconf(request.urlconf)
        return stripe_webhook(request)
