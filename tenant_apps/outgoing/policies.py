"""Who may manage outgoing webhooks: the organization's owners and admins."""

from __future__ import annotations

from shared_apps.accounts.policies import ADMIN_ROLES


def webhooks_manage_allowed(*, role: str) -> bool:
    return role in ADMIN_ROLES
