"""OpenAPI helpers: the error envelope, documented once and referenced by every operation."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorEnvelope = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(help_text="Machine-readable error code, e.g. `not_found`."),
                "message": serializers.CharField(help_text="Human-readable explanation."),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    help_text="Per-field messages for invalid input (empty otherwise).",
                ),
            },
        )
    },
)

_DESCRIPTIONS = {
    400: "Invalid input (`invalid`, `malformed_json`, field codes).",
    401: "Not authenticated or token invalid/expired/revoked (`not_authenticated`, `authentication_failed`).",
    402: "Plan limit or read-only organization (`plan_limit_projects`, `plan_limit_seats`, `tenant_read_only`).",
    403: "Visible but not allowed (`permission_denied`).",
    404: "Not found, or not visible to you, or you are not a member (`not_found`).",
    409: "Conflicts with current state (`last_owner`, `already_member`, `invitation_exists`).",
    413: "Body too large (`payload_too_large`).",
    429: "Rate limited (`throttled`); see `Retry-After`.",
}


def error_responses(*extra: int, base: tuple[int, ...] = (400, 401, 402, 403, 404, 413, 429)) -> dict:
    codes = sorted(set(base) | set(extra))
    return {code: OpenApiResponse(ErrorEnvelope, description=_DESCRIPTIONS[code]) for code in codes}
