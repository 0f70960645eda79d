"""Event types and how each object is rendered: exactly as the API renders it (its output serializers)."""

from __future__ import annotations

from typing import Any

EVENT_TYPES = (
    "project.created",
    "project.updated",
    "project.deleted",
    "task.created",
    "task.updated",
    "task.completed",
    "task.deleted",
    "member.joined",
    "member.role_changed",
    "member.removed",
    "invitation.created",
    "invitation.accepted",
    "billing.plan_changed",
)
TEST_EVENT_TYPE = "webhook.test"
ALL_TYPES = "*"


def render_object(*, event_type: str, obj: Any) -> dict[str, Any]:
    """The API's representation of `obj` (imported lazily: the services that emit events are imported
    by the API modules these serializers live in)."""
    family = event_type.split(".", 1)[0]
    if family == "project":
        from tenant_apps.projects.api.serializers import ProjectOutput

        return dict(ProjectOutput(obj).data)
    if family == "task":
        from tenant_apps.projects.api.serializers import TaskOutput

        return dict(TaskOutput(obj).data)
    if family == "member":
        from tenant_apps.members.api.serializers import MemberOutput

        return dict(MemberOutput(obj).data)
    if family == "invitation":
        from tenant_apps.invitations.api.serializers import InvitationOutput

        return dict(InvitationOutput(obj).data)
    raise ValueError(f"no renderer for {event_type}")
