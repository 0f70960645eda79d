"""Audit entries for changes made by the plumbing below the apps (tenants.base), which announces them."""

from __future__ import annotations

from typing import Any

from tenant_apps.audit.services import audit_event_record
from tenants.base.actor import Actor


def on_cors_origins_changed(sender: object, *, actor: Actor, origins: list[str], **kwargs: Any) -> None:
    audit_event_record(
        actor=actor,
        action="organization.cors_origins_changed",
        target_type="organization",
        data={"origins": origins},
    )
