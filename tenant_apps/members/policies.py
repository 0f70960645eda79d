"""Who may manage teams. Pure decisions."""

from __future__ import annotations

from shared_apps.accounts.models import Role
from shared_apps.accounts.policies import ADMIN_ROLES

TEAM_MANAGER_ROLES = ADMIN_ROLES  # the organization's administrators (one role set: accounts.policies)


def team_manage_allowed(*, role: str) -> bool:
    """Owners and admins create, rename and delete teams and change who is in them."""
    return role in TEAM_MANAGER_ROLES


def team_member_allowed(*, role: str) -> bool:
    """Billing members see billing only: a team (which carries project grants) cannot hold them."""
    return role != Role.BILLING
