"""Counts each answered API request of a tenant for usage-based billing (one Valkey round trip; never
fails the request when Valkey is down, see billing.usage)."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse

from billing.usage import usage_increment


class ApiUsageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        tenant = getattr(request, "tenant", None)
        # Only requests the API actually served count: not rejected credentials, throttles or errors.
        if tenant is not None and request.path.startswith("/api/v1/") and response.status_code < HTTPStatus.BAD_REQUEST:
            usage_increment(tenant.pk)
        return response
