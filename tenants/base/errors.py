"""One error envelope for every non-DRF error the platform answers: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    if request.path.startswith(("/api/", "/webhooks/", "/healthz")):
        return "text/html" not in accept
    return "application/json" in accept and "text/html" not in accept


def error_payload(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def error_response(request: HttpRequest, *, status: int, code: str, message: str) -> HttpResponse:
    """JSON for API clients, a small HTML page for browsers; the code is stable either way."""
    if wants_json(request):
        return JsonResponse(error_payload(code, message), status=status)
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        '<meta name=viewport content="width=device-width,initial-scale=1"></head>'
        "<body><h1>{title}</h1><p>{message}</p><p><small>Error code: <code>{code}</code></small></p>"
        "</body></html>"
    ).format(title=escape(message.split(".", maxsplit=1)[0]), message=escape(message), code=escape(code))
    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")
