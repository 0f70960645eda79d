"""`/api/v1/…` on a tenant host, plus the OpenAPI schema and Swagger UI."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

import tenants.base.api.converters  # noqa: F401  (registers the <id:…> converter)
from shared_apps.accounts.viewsets import TenantRouter
from tenant_apps.api.me import MeApi
from tenant_apps.api.organization import CorsOriginsApi
from tenant_apps.audit.api.views import AuditEventViewSet
from tenant_apps.invitations.api.views import InvitationViewSet
from tenant_apps.members.api.views import MemberViewSet, TeamViewSet
from tenant_apps.outgoing.api import urls as outgoing_urls
from tenant_apps.projects.api.views import ProjectViewSet, TaskViewSet
from tenant_apps.tokens.api.views import TokenViewSet, token_obtain_view
from tenants.base.errors import error_response

# Every tenant resource is a viewset on this router (issue #18); paths and names are the API's own.
router = TenantRouter()
router.register("auth/tokens", TokenViewSet, basename="auth-token")
router.register("projects", ProjectViewSet, basename="project")
router.register("projects/<id:project_id>/tasks", TaskViewSet, basename="task")
router.register("members", MemberViewSet, basename="member")
router.register("teams", TeamViewSet, basename="team")
router.register("invitations", InvitationViewSet, basename="invitation")
router.register("audit-events", AuditEventViewSet, basename="audit-event")

v1 = [
    path("auth/token/", token_obtain_view, name="auth-token"),
    path("me/", MeApi.as_view(), name="me"),
    *router.urls,
    *outgoing_urls.urlpatterns,
    path("organization/cors-origins/", CorsOriginsApi.as_view(), name="cors-origins"),
]


class SchemaApi(SpectacularAPIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []


class DocsApi(SpectacularSwaggerSplitView):
    """Swagger UI from the sidecar's static files; its start-up code is `?script` (CSP: no inline script)."""

    template_name = "api_docs/swagger_ui.html"
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []


class RedocApi(SpectacularRedocView):
    template_name = "api_docs/redoc.html"
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []


# ReDoc on /api/redoc/ sets style attributes and <style> elements and runs its search in a worker made from
# a blob of its own bundle: this page only allows those (scripts stay 'self'; D69).
redoc_inline_styles = csp_replace({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})


def api_not_found(request: HttpRequest) -> HttpResponse:
    """Any other /api/ URL: the API's 404 envelope, not Django's HTML page (keep this include last)."""
    return error_response(request, status=404, code="not_found", message="Not found.")


urlpatterns = [
    path("api/v1/", include((v1, "api"), namespace="api")),
    path("api/schema/", SchemaApi.as_view(), name="api-schema"),
    path("api/docs/", DocsApi.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", redoc_inline_styles(RedocApi.as_view(url_name="api-schema")), name="api-redoc"),
    re_path(r"^api/", api_not_found),
]
