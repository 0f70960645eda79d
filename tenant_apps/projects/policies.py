"""Who may do what with projects and tasks. Pure decisions: the data comes from selectors."""

from __future__ import annotations

from shared_apps.accounts.policies import ADMIN_ROLES, PROJECT_ROLES

# API names of the object permissions a project can be shared with -> guardian codenames.
PROJECT_PERMISSIONS: dict[str, str] = {
    "view": "view_project",
    "change": "change_project",
    "delete": "delete_project",
    "manage": "manage_project",
}
ALL_PROJECT_CODENAMES = frozenset(PROJECT_PERMISSIONS.values())


def role_sees_all_projects(*, role: str) -> bool:
    """Owners and admins manage every project; nobody else gets implicit access."""
    return role in ADMIN_ROLES


def role_uses_projects(*, role: str) -> bool:
    """The billing role sees billing data only, whatever was shared with it."""
    return role in PROJECT_ROLES


def project_create_allowed(*, role: str) -> bool:
    return role in PROJECT_ROLES


def project_codenames_for(*, role: str, granted: set[str]) -> frozenset[str]:
    """The effective guardian codenames a member holds on one project."""
    if not role_uses_projects(role=role):
        return frozenset()
    if role_sees_all_projects(role=role):
        return ALL_PROJECT_CODENAMES
    return frozenset(granted) & ALL_PROJECT_CODENAMES


def project_can_view(*, codenames: frozenset[str]) -> bool:
    return "view_project" in codenames


def project_can_change(*, codenames: frozenset[str]) -> bool:
    return "change_project" in codenames


def project_can_delete(*, codenames: frozenset[str]) -> bool:
    return "delete_project" in codenames


def project_can_share(*, codenames: frozenset[str]) -> bool:
    return "manage_project" in codenames


# Tasks follow their project: view the project -> view its tasks; change it -> write its tasks.
task_can_view = project_can_view
task_can_write = project_can_change


def project_grantee_allowed(*, role: str) -> bool:
    return role_uses_projects(role=role)


def project_limit_reached(*, limit: int | None, current: int) -> bool:
    return limit is not None and current >= limit
