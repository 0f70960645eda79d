"""`/api/v1/…` on a tenant host, plus the OpenAPI schema and Swagger UI."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

import tenants.base.api.converters  # noqa: F401  (registers the <id:…> converter)
from tenant_apps.api.me import MeApi
from tenant_apps.api.organization import CorsOriginsApi
from tenant_apps.audit.api.views import AuditEventListApi
from tenant_apps.invitations.api import views as members
from tenant_apps.outgoing.api import urls as outgoing_urls
from tenant_apps.projects.api import views as projects
from tenant_apps.tokens.api import views as tokens
from tenants.base.errors import error_response

v1 = [
    path("auth/token/", tokens.TokenObtainApi.as_view(), name="auth-token"),
    path("auth/tokens/", tokens.TokenListApi.as_view(), name="auth-tokens"),
    path("auth/tokens/<id:token_id>/", tokens.TokenRevokeApi.as_view(), name="auth-token-detail"),
    path("me/", MeApi.as_view(), name="me"),
    path("projects/", projects.ProjectListCreateApi.as_view(), name="projects"),
    path("projects/<id:project_id>/", projects.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<id:project_id>/tasks/", projects.TaskListCreateApi.as_view(), name="tasks"),
    path("projects/<id:project_id>/tasks/<id:task_id>/", projects.TaskDetailApi.as_view(), name="task-detail"),
    path(
        "projects/<id:project_id>/permissions/",
        projects.ProjectPermissionsApi.as_view(),
        name="project-permissions",
    ),
    path("members/", members.MemberListApi.as_view(), name="members"),
    path("members/<id:user_id>/", members.MemberDetailApi.as_view(), name="member-detail"),
    path("invitations/", members.InvitationListCreateApi.as_view(), name="invitations"),
    path("invitations/accept/", members.InvitationAcceptApi.as_view(), name="invitation-accept"),
    path("invitations/<id:invitation_id>/", members.InvitationRevokeApi.as_view(), name="invitation-detail"),
    path("audit-events/", AuditEventListApi.as_view(), name="audit-events"),
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
