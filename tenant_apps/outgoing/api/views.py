"""`/api/v1/webhook-endpoints/…`: owners and admins register endpoints and read their delivery logs."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.accounts.permissions import IsTenantAdmin
from tenant_apps.outgoing import selectors, services
from tenant_apps.outgoing.api.serializers import (
    DeliveryDetailOutput,
    DeliveryOutput,
    EndpointCreateInput,
    EndpointOutput,
    EndpointUpdateInput,
    EndpointWithSecretOutput,
    EventTypesOutput,
    RotateInput,
)
from tenant_apps.outgoing.events import EVENT_TYPES
from tenant_apps.outgoing.models import Delivery, WebhookEndpoint
from tenants.base.api.context import actor_of
from tenants.base.api.docs import error_responses
from tenants.base.api.views import ApiGenericView, ApiView


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
    if endpoint is None:
        raise exceptions.NotFound()
    return endpoint


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> Response:
    endpoint.secret = secret  # the value just generated, shown this once
    response = Response(EndpointWithSecretOutput(endpoint).data, status=status.HTTP_201_CREATED)
    response["Cache-Control"] = "no-store"
    return response


class EndpointListCreateApi(ApiGenericView):
    scope_area = "admin"  # endpoints and their secrets: tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]
    serializer_class = EndpointOutput

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return selectors.endpoint_list()

    @extend_schema(
        operation_id="webhook_endpoints_list", responses={200: EndpointOutput(many=True), **error_responses()}
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(EndpointOutput(page, many=True).data)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        request=EndpointCreateInput,
        responses={201: EndpointWithSecretOutput, **error_responses()},
    )
    def post(self, request: Request) -> Response:
        data = EndpointCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(actor=actor_of(request), **data.validated_data)
        return _with_secret(endpoint, secret)


class EndpointDetailApi(ApiView):
    scope_area = "admin"  # endpoints and their secrets: tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]

    @extend_schema(operation_id="webhook_endpoints_retrieve", responses={200: EndpointOutput, **error_responses()})
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(EndpointOutput(_endpoint(endpoint_id)).data)

    @extend_schema(
        operation_id="webhook_endpoints_update",
        request=EndpointUpdateInput,
        responses={200: EndpointOutput, **error_responses()},
    )
    def patch(self, request: Request, endpoint_id: int) -> Response:
        endpoint = _endpoint(endpoint_id)
        data = EndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(actor=actor_of(request), endpoint=endpoint, **data.validated_data)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(operation_id="webhook_endpoints_destroy", responses={204: None, **error_responses()})
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.endpoint_delete(actor=actor_of(request), endpoint=_endpoint(endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretApi(ApiView):
    scope_area = "admin"  # endpoints and their secrets: tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        request=RotateInput,
        responses={201: EndpointWithSecretOutput, **error_responses()},
    )
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = _endpoint(endpoint_id)
        data = RotateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_rotate_secret(
            actor=actor_of(request), endpoint=endpoint, overlap_seconds=data.validated_data.get("overlap_seconds")
        )
        return _with_secret(endpoint, secret)


class EndpointTestApi(ApiView):
    scope_area = "admin"  # endpoints and their secrets: tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        operation_id="webhook_endpoints_send_test",
        request=None,
        responses={202: DeliveryOutput, **error_responses()},
    )
    def post(self, request: Request, endpoint_id: int) -> Response:
        delivery = services.endpoint_send_test(actor=actor_of(request), endpoint=_endpoint(endpoint_id))
        delivery = Delivery.objects.select_related("event").get(pk=delivery.pk)
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListApi(ApiGenericView):
    scope_area = "admin"  # endpoints and their secrets: tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]
    serializer_class = DeliveryOutput

    def get_queryset(self) -> QuerySet[Delivery]:
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        return selectors.delivery_list(endpoint=_endpoint(self.kwargs["endpoint_id"]))

    @extend_schema(
        operation_id="webhook_deliveries_list", responses={200: DeliveryOutput(many=True), **error_responses()}
    )
    def get(self, request: Request, endpoint_id: int) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(DeliveryOutput(page, many=True).data)


class DeliveryDetailApi(ApiView):
    scope_area = "admin"  # endpoints and their secrets: tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        operation_id="webhook_deliveries_retrieve", responses={200: DeliveryDetailOutput, **error_responses()}
    )
    def get(self, request: Request, endpoint_id: int, delivery_id: int) -> Response:
        delivery = selectors.delivery_get(endpoint=_endpoint(endpoint_id), delivery_id=delivery_id)
        if delivery is None:
            raise exceptions.NotFound()
        return Response(DeliveryDetailOutput(delivery).data)


class DeliveryResendApi(ApiView):
    scope_area = "admin"  # endpoints and their secrets: tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        operation_id="webhook_deliveries_resend", request=None, responses={202: DeliveryOutput, **error_responses()}
    )
    def post(self, request: Request, endpoint_id: int, delivery_id: int) -> Response:
        delivery = selectors.delivery_get(endpoint=_endpoint(endpoint_id), delivery_id=delivery_id)
        if delivery is None:
            raise exceptions.NotFound()
        again = services.delivery_resend(actor=actor_of(request), delivery=delivery)
        again = Delivery.objects.select_related("event").get(pk=again.pk)
        return Response(DeliveryOutput(again).data, status=status.HTTP_202_ACCEPTED)


class EventTypesApi(ApiView):
    scope_area = "admin"  # endpoints and their secrets: tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]

    @extend_schema(operation_id="webhook_event_types", responses={200: EventTypesOutput, **error_responses()})
    def get(self, request: Request) -> Response:
        return Response({"event_types": list(EVENT_TYPES)})
