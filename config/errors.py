"""The product's own 400/403/404/500 pages (handler400… in config/urls_public.py and urls_tenant.py).

API, webhook and health paths (and clients asking for JSON) get the error envelope instead. 404 and
403 pages extend the host's layout (the organization's portal header on a tenant host, the public
site's on the public host). 400 and 500 render a standalone page with no request context at all: they
run when something already failed (a bad Host header, the database, a context processor), so they must
not depend on any of it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

from tenants.base.errors import error_payload, wants_json

logger = logging.getLogger(__name__)

TENANT_LAYOUT = "portal/base.html"
PUBLIC_LAYOUT = "public_site/base.html"

PAGES = {
    400: ("bad_request", "Bad request", "The request could not be understood."),
    403: ("permission_denied", "Not allowed", "You do not have access to this page."),
    404: ("not_found", "Page not found", "There is no page at this address."),
    500: ("server_error", "Something went wrong", "The error has been logged. Please try again in a moment."),
}

# Last resort if even the standalone template cannot render.
_BARE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title} · Tenantry</title></head>"
    "<body><h1>{title}</h1><p>{message}</p></body></html>"
)


def _json(status: int) -> JsonResponse:
    code, _, message = PAGES[status]
    return JsonResponse(error_payload(code, message), status=status)


def _standalone(status: int) -> HttpResponse:
    code, title, message = PAGES[status]
    context = {"status": status, "code": code, "title": title, "message": message}
    try:
        body = loader.get_template("errors/standalone.html").render(context)  # no request: no processors
    except Exception:
        logger.exception("error page template failed; answering the bare page")
        body = _BARE.format(title=title, message=message)
    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")


def _in_layout(request: HttpRequest, status: int, layout: str) -> HttpResponse:
    if wants_json(request):
        return _json(status)
    code, title, message = PAGES[status]
    context: dict[str, Any] = {"layout": layout, "status": status, "code": code, "title": title, "message": message}
    try:
        body = loader.get_template("errors/page.html").render(context, request)
    except Exception:
        logger.exception("error page in the site layout failed; answering the standalone page")
        return _standalone(status)
    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")


def tenant_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _in_layout(request, 404, TENANT_LAYOUT)


def public_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _in_layout(request, 404, PUBLIC_LAYOUT)


def tenant_permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _in_layout(request, 403, TENANT_LAYOUT)


def public_permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _in_layout(request, 403, PUBLIC_LAYOUT)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json(400) if wants_json(request) else _standalone(400)


def server_error(request: HttpRequest) -> HttpResponse:
    return _json(500) if wants_json(request) else _standalone(500)
