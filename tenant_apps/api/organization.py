"""`/api/v1/organization/cors-origins/`: the browser origins allowed to call this organization's API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.accounts.permissions import IsTenantAdmin
from tenants.base.api.context import actor_of, tenant_of
from tenants.base.api.cors import MAX_ORIGINS, cors_origins_list, cors_origins_set
from tenants.base.api.docs import error_responses
from tenants.base.api.views import ApiView


class CorsOriginsSerializer(serializers.Serializer):
    origins = serializers.ListField(
        child=serializers.CharField(max_length=255),
        max_length=MAX_ORIGINS,
        allow_empty=True,
        help_text="Origins as browsers send them, e.g. `https://app.example.com` or `http://localhost:3000`.",
    )


class CorsOriginsApi(ApiView):
    permission_classes = [IsTenantAdmin]
    scope_area = "admin"

    @extend_schema(operation_id="cors_origins_retrieve", responses={200: CorsOriginsSerializer, **error_responses()})
    def get(self, request: Request) -> Response:
        return Response({"origins": cors_origins_list(tenant=tenant_of(request))})

    @extend_schema(
        operation_id="cors_origins_update",
        request=CorsOriginsSerializer,
        responses={200: CorsOriginsSerializer, **error_responses()},
    )
    def put(self, request: Request) -> Response:
        data = CorsOriginsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        origins = cors_origins_set(
            actor=actor_of(request), tenant=tenant_of(request), origins=data.validated_data["origins"]
        )
        return Response({"origins": origins})
