"""URLs of the public host: landing, signup, operator admin, Stripe webhooks, health."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from tenants.health import healthz
from tenants.observability import metrics_view


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"service": "tenantry", "docs": "/api/docs/"})


urlpatterns = [
    path("", index, name="public-index"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("webhooks.urls")),
    path("finance/", include("billing.finance.urls")),
]
