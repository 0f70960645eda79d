"""Base classes for tenant API views: every response carries the request id."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.accounts.models import Membership
from tenant_apps.api.context import request_id_of


class _RequestIdMixin:
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        for key, values in request.query_params.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                raise ValidationError({key.replace("\x00", ""): ["Null characters are not allowed."]})

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        response["X-Request-ID"] = request_id_of(request)
        return response


class ApiView(_RequestIdMixin, APIView):
    @property
    def membership(self) -> Membership:
        return self.request.membership  # type: ignore[attr-defined]


class ApiGenericView(_RequestIdMixin, GenericAPIView):
    @property
    def membership(self) -> Membership:
        return self.request.membership  # type: ignore[attr-defined]
