"""Audit writes. Called by every other service inside its own transaction, never on its own."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tenant_apps.audit.models import AuditEvent
from tenants.base.actor import Actor


def audit_event_record(
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit events are written inside the transaction of the write they record")
    user = actor.user if actor.user is not None and actor.user.is_authenticated else None
    return AuditEvent.objects.create(
        actor=user,
        actor_email=user.email if user is not None else "",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        ip=actor.ip,
        request_id=actor.request_id[:128],
        data=data or {},
    )
