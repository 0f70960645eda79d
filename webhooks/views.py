"""POST /webhooks/stripe/ (public host): verify, store, answer. No Stripe call, no billing logic."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tenants.base.errors import error_payload
from webhooks import services, stages
from webhooks.signature import SignatureError, verify


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_payload(code, message), status=status)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    limit = settings.STRIPE_WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "invalid_request", "Invalid Content-Length.")
    if declared > limit:
        return _error(413, "payload_too_large", f"Webhook bodies are limited to {limit} bytes.")
    body = request.read(limit + 1)  # raw bytes: the signature covers them exactly
    if len(body) > limit:
        return _error(413, "payload_too_large", f"Webhook bodies are limited to {limit} bytes.")
    try:
        with stages.stage("verify"):
            verify(
                body=body,
                header=request.headers.get("Stripe-Signature"),
                secrets=settings.STRIPE_WEBHOOK_SECRETS,
                tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
            )
        with stages.stage("parse"):
            event = services.parse_event(body)
    except SignatureError as exc:
        return _error(400, exc.code, exc.message)
    except services.InvalidEventError as exc:
        return _error(400, exc.code, exc.message)
    result = services.webhook_event_ingest(body=body, event=event)
    return JsonResponse({"received": True, "duplicate": not result.created, "status": result.event.status})
