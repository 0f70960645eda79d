"""Who may manage outgoing webhooks: the organization's owners and admins."""

from __future__ import annotations

from shared_apps.accounts.models import Role

WEBHOOK_ADMIN_ROLES = (Role.OWNER, Role.ADMIN)


def webhooks_manage_allowed(*, role: str) -> bool:
    return role in WEBHOOK_ADMIN_ROLES
