"""The API's one error envelope: {"error": {"code", "message", "fields"}} for every 4xx.

Services raise Django ValidationErrors with a machine-readable code; the code decides the status.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from tenants.base.api.context import request_id_of
from tenants.base.errors import error_payload


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


# Status of a service-layer ValidationError, by its code (anything else is a 400).
SERVICE_ERROR_STATUS = {
    "plan_limit_projects": 402,
    "plan_limit_seats": 402,
    "tenant_read_only": 402,
    "last_owner": 409,
    "already_member": 409,
    "invitation_exists": 409,
    "invalid_credentials": 401,
    "login_throttled": 429,
    "otp_required": 401,
    "otp_invalid": 401,
    "two_factor_enrolment_required": 403,
    "not_found": 404,
    "invitation_invalid": 404,
    "forbidden": 403,
}

# Default codes for DRF exceptions whose own code is too generic.
DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotFound: "not_found",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


def _from_django_validation(exc: DjangoValidationError) -> tuple[int, str, str, dict]:
    if hasattr(exc, "error_dict"):
        fields = {name: [str(m) for e in errs for m in e.messages] for name, errs in exc.error_dict.items()}
        codes = [e.code for errs in exc.error_dict.values() for e in errs if e.code]
        code = codes[0] if codes else "invalid"
        message = next(iter(fields.values()))[0] if fields else "Invalid input."
        return SERVICE_ERROR_STATUS.get(code, 400), code, message, fields
    errors = exc.error_list if hasattr(exc, "error_list") else [exc]
    code = next((e.code for e in errors if e.code), None) or "invalid"
    message = " ".join(str(m) for e in errors for m in e.messages) or "Invalid input."
    return SERVICE_ERROR_STATUS.get(code, 400), code, message, {}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    headers: dict[str, str] = {}
    request = context.get("request")
    if request is not None:
        headers["X-Request-ID"] = request_id_of(request)

    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, DjangoValidationError):
        status_code, code, message, fields = _from_django_validation(exc)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            headers["Retry-After"] = str(int(retry_after))
        return Response(error_payload(code, message, fields), status=status_code, headers=headers)

    if not isinstance(exc, exceptions.APIException):
        return None

    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    wait = getattr(exc, "wait", None)
    if wait:
        headers["Retry-After"] = str(max(1, int(wait + 0.999)))

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = _flatten(detail) if isinstance(detail, dict) else {}
        non_field = fields.pop("non_field_errors", None) if fields else None
        message = _first_message(non_field) if non_field else _first_message(detail)
        if not fields and non_field is None and isinstance(detail, dict):
            message = "Invalid input."
        codes = exc.get_codes()
        field_code = "invalid"
        if isinstance(codes, list) and codes and isinstance(codes[0], str) and codes[0] != "invalid":
            field_code = codes[0]
        return Response(error_payload(field_code, message, fields), status=exc.status_code, headers=headers)

    code = DRF_CODES.get(type(exc), "")
    if not code:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        for klass, default in DRF_CODES.items():
            if isinstance(exc, klass) and code == klass.default_code:
                code = default
    message = _first_message(exc.detail)
    if isinstance(exc, exceptions.ParseError):
        message = "The request body is not valid JSON."
    return Response(error_payload(str(code), message), status=exc.status_code, headers=headers)
