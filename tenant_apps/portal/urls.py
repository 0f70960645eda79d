"""The organization portal on a tenant host (server-rendered; see docs/portal.md)."""

from django.urls import path

import tenants.base.api.converters  # noqa: F401  (registers the <id:…> converter)
from shared_apps.accounts.password_urls import password_reset_urls
from tenant_apps.portal.views import (
    account,
    audit,
    auth,
    billing,
    dashboard,
    members,
    projects,
    settings,
    tokens,
    webhooks,
)

urlpatterns = [
    path("", dashboard.dashboard_view, name="portal-dashboard"),
    path("login/", auth.login_view, name="portal-login"),
    path("logout/", auth.logout_view, name="portal-logout"),
    path("handoff/", auth.handoff_view, name="portal-handoff"),
    path("switch/<slug:slug>/", auth.switch_view, name="portal-switch"),
    path("members/", members.members_view, name="portal-members"),
    path("members/invite/", members.invite_view, name="portal-invite"),
    path("members/<id:user_id>/role/", members.member_role_view, name="portal-member-role"),
    path("members/<id:user_id>/remove/", members.member_remove_view, name="portal-member-remove"),
    path("invitations/<id:invitation_id>/resend/", members.invitation_resend_view, name="portal-invitation-resend"),
    path("invitations/<id:invitation_id>/revoke/", members.invitation_revoke_view, name="portal-invitation-revoke"),
    path("invitations/accept/<str:token>/", members.invitation_accept_view, name="portal-invitation-accept"),
    path("projects/", projects.projects_view, name="portal-projects"),
    path("projects/<id:project_id>/", projects.project_detail_view, name="portal-project"),
    path("projects/<id:project_id>/share/", projects.project_share_view, name="portal-project-share"),
    path("projects/<id:project_id>/revoke/", projects.project_revoke_view, name="portal-project-revoke"),
    path("projects/<id:project_id>/edit/", projects.project_edit_view, name="portal-project-edit"),
    path("projects/<id:project_id>/archive/", projects.project_archive_view, name="portal-project-archive"),
    path("projects/<id:project_id>/delete/", projects.project_delete_view, name="portal-project-delete"),
    path("projects/<id:project_id>/tasks/", projects.task_create_view, name="portal-task-create"),
    path("projects/<id:project_id>/tasks/<id:task_id>/", projects.task_detail_view, name="portal-task"),
    path("projects/<id:project_id>/tasks/<id:task_id>/status/", projects.task_status_view, name="portal-task-status"),
    path("projects/<id:project_id>/tasks/<id:task_id>/delete/", projects.task_delete_view, name="portal-task-delete"),
    path("billing/", billing.billing_view, name="portal-billing"),
    path("billing/checkout/", billing.checkout_view, name="portal-billing-checkout"),
    path("billing/portal/", billing.customer_portal_view, name="portal-billing-portal"),
    path("billing/status/", billing.billing_status_view, name="portal-billing-status"),
    path("billing/change/", billing.plan_change_view, name="portal-billing-change"),
    path("tokens/", tokens.tokens_view, name="portal-tokens"),
    path("tokens/<id:token_id>/revoke/", tokens.token_revoke_view, name="portal-token-revoke"),
    path("audit/", audit.audit_view, name="portal-audit"),
    path("settings/", settings.settings_view, name="portal-settings"),
    *webhooks.urlpatterns,
    *account.urlpatterns,
    *password_reset_urls(base_template="portal/base.html", login_url="/login/"),
]
