"""The API's AutoSchema: documents, on every operation, the conventions the base views apply to every
view (tenants/base/api/views.py): Idempotency-Key, ETag / If-None-Match / If-Match, RateLimit-*,
Retry-After, and the token scope the operation needs (`x-required-scope`)."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.openapi import AutoSchema

from tenants.base.api.scopes import scope_required

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
_INT = {"schema": {"type": "integer"}}
RATELIMIT_HEADERS = {
    "RateLimit-Limit": {
        **_INT,
        "description": "Requests allowed in the current one-minute window (the budget closest to running out). "
        "Absent when the plan has no request budget or the counter store is unavailable.",
    },
    "RateLimit-Remaining": {**_INT, "description": "Requests left in the current window."},
    "RateLimit-Reset": {**_INT, "description": "Seconds until the window resets."},
}
ETAG_HEADER = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "Version of this representation; send it in `If-None-Match` (GET) "
        "or `If-Match` (PATCH, DELETE).",
    }
}
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": "Present when this is the stored response of an earlier request "
        "with the same `Idempotency-Key`.",
    }
}
RETRY_AFTER = {"Retry-After": {**_INT, "description": "Seconds to wait before retrying."}}


def _param(name: str, description: str) -> dict[str, Any]:
    return {"in": "header", "name": name, "required": False, "schema": {"type": "string"}, "description": description}


class ApiAutoSchema(AutoSchema):
    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any) -> Any:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None or not path.startswith("/api/v1/"):
            return operation
        method = method.upper()
        params = operation.setdefault("parameters", [])
        responses = operation.setdefault("responses", {})
        ok_schema = json.dumps(((responses.get("200") or {}).get("content") or {}).get("application/json", {}))
        # One object (what gets an ETag, D62), not a page or an array.
        single = "200" in responses and "/Paginated" not in ok_schema and '"type": "array"' not in ok_schema[:40]
        throttled = bool(getattr(self.view, "throttle_classes", None))
        authenticated = bool(getattr(self.view, "authentication_classes", None))

        if authenticated:
            operation["x-required-scope"] = scope_required(view=self.view, method=method)
            if "403" in responses:
                responses["403"]["description"] += (
                    " A token without the scope this operation needs: `insufficient_scope`."
                )
        if method == "GET" and single:
            params.append(_param("If-None-Match", "An `ETag` you hold; 304 with no body when it is still current."))
            responses["200"].setdefault("headers", {}).update(ETAG_HEADER)
            responses.setdefault(
                "304",
                {
                    "description": "Not modified: your `If-None-Match` names the current ETag.",
                    "headers": dict(ETAG_HEADER),
                },
            )
        if method in ("POST", "PATCH", "PUT", "DELETE") and authenticated:
            params.append(
                _param(
                    "Idempotency-Key",
                    "1-255 visible ASCII characters (a UUID). The same key with the same request within 24 h, "
                    "from the same credential, returns the first successful response again "
                    "(`Idempotent-Replayed: true`) without a second effect.",
                )
            )
            for code, response in responses.items():
                if code.startswith("2"):
                    response.setdefault("headers", {}).update(REPLAYED_HEADER)
            responses.setdefault("409", {"description": "", "content": _ERROR})
            responses["409"]["description"] = (
                responses["409"]["description"] + " " if responses["409"]["description"] else ""
            ) + "`idempotency_key_in_progress`: a request with this Idempotency-Key is still running."
            responses["422"] = {
                "description": "`idempotency_key_reused`: this Idempotency-Key was used with a different request.",
                "content": _ERROR,
            }
        if method in ("PATCH", "PUT") and single:
            responses["200"].setdefault("headers", {}).update(ETAG_HEADER)
        if method in ("PATCH", "PUT", "DELETE") and getattr(self.view, "if_match", False):
            params.append(
                _param(
                    "If-Match",
                    "The `ETag` you read; 412 `precondition_failed` (nothing changed) when the object changed since.",
                )
            )
            responses["412"] = {
                "description": "`precondition_failed`: `If-Match` does not match the current ETag; nothing changed.",
                "content": _ERROR,
            }
        if throttled:
            for code, response in responses.items():
                response.setdefault("headers", {}).update(RATELIMIT_HEADERS)
                if code == "429":
                    response["headers"].update(RETRY_AFTER)
        return operation
