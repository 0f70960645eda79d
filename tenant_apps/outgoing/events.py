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


# Event family -> the API output serializer that renders its objects, named by the app that owns them
# in its AppConfig.ready (projects: project, task; invitations: member, invitation).
_RENDERERS: dict[str, Any] = {}


def renderer_register(family: str, serializer: Any) -> None:
    _RENDERERS[family] = serializer


def render_object(*, event_type: str, obj: Any) -> dict[str, Any]:
    """The API's representation of `obj`, exactly as the API renders it."""
    serializer = _RENDERERS.get(event_type.split(".", 1)[0])
    if serializer is None:
        raise ValueError(f"no renderer for {event_type}")
    return dict(serializer(obj).data)
