"""Object permission checks of the projects viewsets: "visible but not allowed" is 403.

The caller's effective codenames on the project (their own guardian grants, their teams' group grants,
or all of them for owners and admins) are loaded with the project by `ProjectScopedMixin`; each action
names the codename it needs."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from typing_extensions import override

from tenant_apps.projects import policies

# action -> (decision, message when refused)
PROJECT_ACTIONS = {
    "partial_update": (policies.project_can_change, "You cannot change this project."),
    "destroy": (policies.project_can_delete, "You cannot delete this project."),
    "permissions": (policies.project_can_share, "You cannot manage this project's sharing."),
    "grant_permissions": (policies.project_can_share, "You cannot manage this project's sharing."),
    "revoke_permissions": (policies.project_can_share, "You cannot manage this project's sharing."),
    "team_permissions": (policies.project_can_share, "You cannot manage this project's sharing."),
    "grant_team_permissions": (policies.project_can_share, "You cannot manage this project's sharing."),
    "revoke_team_permissions": (policies.project_can_share, "You cannot manage this project's sharing."),
}
TASK_ACTIONS = {
    "create": (policies.task_can_write, "You cannot add tasks to this project."),
    "partial_update": (policies.task_can_write, "You cannot change this project's tasks."),
    "destroy": (policies.task_can_write, "You cannot change this project's tasks."),
}


class _CodenamePermission(BasePermission):
    actions: dict[str, tuple[Any, str]] = {}

    def _allowed(self, view: Any) -> bool:
        rule = self.actions.get(view.action)
        if rule is None:
            return True  # reading: being able to see the project is enough (404 otherwise)
        decide, message = rule
        self.message = message
        return bool(decide(codenames=view.codenames))


class HasProjectPermission(_CodenamePermission):
    """On a project: the guardian codename its action needs."""

    actions = PROJECT_ACTIONS

    @override
    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return self._allowed(view)


class HasProjectTaskPermission(_CodenamePermission):
    """On a project's tasks: writing them needs `change` on the project (a create checks the project)."""

    actions = TASK_ACTIONS

    @override
    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return self._allowed(view)
