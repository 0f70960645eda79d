"""Base classes for tenant API views. Every view built on them gets, without opting in:

- the request id on every response;
- token scopes checked after the membership gate (403 `insufficient_scope`, D64);
- `Idempotency-Key` on POST/PATCH/DELETE (replay, 409, 422; tenants/base/api/idempotency.py, D61);
- an `ETag` on single-object responses and 304 for a matching `If-None-Match` (D62);
- `RateLimit-*` headers (D63).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from rest_framework import exceptions
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.base.api import idempotency
from tenants.base.api.conditional import etag_of, if_match_check, none_match
from tenants.base.api.context import request_id_of
from tenants.base.api.scopes import scopes_check
from tenants.base.api.throttles import ratelimit_headers


class _Replay(exceptions.APIException):
    """Raised in `initial` to answer with a stored response instead of running the view."""

    def __init__(self, stored: idempotency.Stored) -> None:
        super().__init__()
        self.stored = stored


class _ApiBaseMixin:
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method not in idempotency.UNSAFE_METHODS or idempotency.HEADER not in request.headers:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        # One transaction for the key's lock, the view's writes and the stored response (D61).
        with transaction.atomic():
            response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            claim = getattr(self, "_idempotency_claim", None)
            if not HTTPStatus.OK <= response.status_code < HTTPStatus.MULTIPLE_CHOICES:
                transaction.set_rollback(True)  # an error leaves nothing behind, and is not stored
            elif claim is not None:
                if hasattr(response, "render"):
                    response.render()
                idempotency.store(
                    claim=claim,
                    status_code=response.status_code,
                    content_type=response.get("Content-Type", "application/json"),
                    body=bytes(response.content) if hasattr(response, "content") else b"",
                )
        return response

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)  # type: ignore[misc]
        scopes_check(request=request, view=self)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        for key, values in request.query_params.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                raise ValidationError({key.replace("\x00", ""): ["Null characters are not allowed."]})
        idem_key = idempotency.wanted(request)
        if idem_key is None:
            return
        credential = idempotency.credential_of(request)
        if credential is None or not transaction.get_connection().in_atomic_block:
            return  # anonymous endpoints (token exchange, invitation acceptance) ignore the key (D61)
        result = idempotency.claim(request=request, key=idem_key, credential=credential)
        if isinstance(result, idempotency.Stored):
            raise _Replay(result)
        self._idempotency_claim = result

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            stored = exc.stored
            replay = HttpResponse(stored.body, status=stored.status, content_type=stored.content_type)
            replay[idempotency.REPLAYED_HEADER] = "true"
            return replay  # type: ignore[return-value]
        return super().handle_exception(exc)  # type: ignore[misc]

    def precondition(self, current: Any) -> None:
        """For PATCH/DELETE: call with the object's representation, computed from the row locked in
        this transaction; a stale `If-Match` raises 412 `precondition_failed`."""
        if_match_check(self.request, current)  # type: ignore[attr-defined]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        etag = None
        if (
            isinstance(response, Response)
            and HTTPStatus.OK <= response.status_code < HTTPStatus.MULTIPLE_CHOICES
            and request.method in ("GET", "HEAD", "PATCH", "PUT")
            and isinstance(response.data, dict)
            and "results" not in response.data
        ):
            etag = etag_of(response.data)
            if request.method in ("GET", "HEAD") and none_match(request._request.headers.get("If-None-Match"), etag):
                response = Response(status=304)
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if etag is not None:
            response["ETag"] = etag
        for header, value in ratelimit_headers(request, self).items():
            response[header] = value
        response["X-Request-ID"] = request_id_of(request)
        return response


class ApiView(_ApiBaseMixin, APIView):
    @property
    def membership(self) -> Any:
        """The caller's shared_apps.accounts Membership, set by the membership gate."""
        return self.request.membership  # type: ignore[attr-defined]


class ApiGenericView(_ApiBaseMixin, GenericAPIView):
    @property
    def membership(self) -> Any:
        """The caller's shared_apps.accounts Membership, set by the membership gate."""
        return self.request.membership  # type: ignore[attr-defined]
