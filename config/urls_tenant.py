"""URLs of a tenant host (<slug>.<base domain>)."""

from django.urls import include, path

from tenants.base.health import healthz
from tenants.base.observability import metrics_view

urlpatterns = [
    path("healthz", healthz, name="tenant-healthz"),
    path("metrics", metrics_view, name="tenant-metrics"),
    path("api/v1/billing/", include("billing.api.urls")),
    path("", include("tenant_apps.api.urls")),
    # The organization portal (server-rendered pages) owns every other path.
    path("", include("tenant_apps.portal.urls")),
]

# The product's own error pages (never Django's debug or default ones).
handler400 = "config.errors.bad_request"
handler403 = "config.errors.tenant_permission_denied"
handler404 = "config.errors.tenant_not_found"
handler500 = "config.errors.server_error"
