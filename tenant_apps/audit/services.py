"""Audit writes. Called by every other service inside its own transaction, never on its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from shared_apps.accounts.models import User
from tenant_apps.audit.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who is acting and from where; built once per request by the API and passed to services."""

    user: User | None
    ip: str | None = None
    request_id: str = ""


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
