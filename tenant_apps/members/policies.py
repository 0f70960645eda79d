"""Who may manage teams. Pure decisions."""

from __future__ import annotations

from shared_apps.accounts.models import Role

TEAM_MANAGER_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def team_manage_allowed(*, role: str) -> bool:
    """Owners and admins create, rename and delete teams and change who is in them."""
    return role in TEAM_MANAGER_ROLES


def team_member_allowed(*, role: str) -> bool:
    """Billing members see billing only: a team (which carries project grants) cannot hold them."""
    return role != Role.BILLING
