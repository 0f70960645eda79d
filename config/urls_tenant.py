"""URLs of a tenant host (<slug>.<base domain>)."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from tenants.health import healthz
from tenants.observability import metrics_view


def index(request: HttpRequest) -> JsonResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    return JsonResponse({"organization": tenant.slug, "name": tenant.name, "status": tenant.status})


urlpatterns = [
    path("", index, name="tenant-index"),
    path("healthz", healthz, name="tenant-healthz"),
    path("metrics", metrics_view, name="tenant-metrics"),
    path("api/v1/billing/", include("billing.api.urls")),
    path("", include("tenant_apps.api.urls")),
]
