"""URLs of the public host: landing, signup, operator admin, Stripe webhooks, health."""

from django.contrib import admin
from django.urls import include, path

from tenants.base.health import healthz
from tenants.base.observability import metrics_view

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("webhooks.urls")),
    path("finance/", include("billing.finance.urls")),
    path("", include("shared_apps.public_site.urls")),
]

# The product's own error pages (never Django's debug or default ones).
handler400 = "config.errors.bad_request"
handler403 = "config.errors.public_permission_denied"
handler404 = "config.errors.public_not_found"
handler500 = "config.errors.server_error"
