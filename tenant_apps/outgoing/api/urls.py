"""`/api/v1/webhook-endpoints/…`, spliced into the v1 list of tenant_apps/api/urls.py."""

from django.urls import path

from tenant_apps.outgoing.api import views

urlpatterns = [
    path("webhook-endpoints/", views.EndpointListCreateApi.as_view(), name="webhook-endpoints"),
    path("webhook-endpoints/event-types/", views.EventTypesApi.as_view(), name="webhook-event-types"),
    path("webhook-endpoints/<id:endpoint_id>/", views.EndpointDetailApi.as_view(), name="webhook-endpoint-detail"),
    path(
        "webhook-endpoints/<id:endpoint_id>/rotate-secret/",
        views.EndpointRotateSecretApi.as_view(),
        name="webhook-endpoint-rotate",
    ),
    path("webhook-endpoints/<id:endpoint_id>/test/", views.EndpointTestApi.as_view(), name="webhook-endpoint-test"),
    path("webhook-endpoints/<id:endpoint_id>/deliveries/", views.DeliveryListApi.as_view(), name="webhook-deliveries"),
    path(
        "webhook-endpoints/<id:endpoint_id>/deliveries/<id:delivery_id>/",
        views.DeliveryDetailApi.as_view(),
        name="webhook-delivery-detail",
    ),
    path(
        "webhook-endpoints/<id:endpoint_id>/deliveries/<id:delivery_id>/resend/",
        views.DeliveryResendApi.as_view(),
        name="webhook-delivery-resend",
    ),
]
