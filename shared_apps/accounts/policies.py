"""Who may grant which role, and who may change or remove whom: one rule for every surface (the API,
the portal and the services both call). Owners manage everyone and may make owners; admins manage
admins, members and billing members, and may grant any role but owner; nobody else grants roles."""

from __future__ import annotations

from shared_apps.accounts.models import Role

# Role sets, defined here only (the API, the portal and the services of every app use them).
# Run the organization: members, invitations, settings, audit log, webhooks, and every project.
ADMIN_ROLES: frozenset[str] = frozenset({Role.OWNER, Role.ADMIN})
# See the bills, change the plan, pay.
BILLING_ROLES: frozenset[str] = frozenset({Role.OWNER, Role.BILLING})
# Work with projects and tasks (the billing role sees billing data only, whatever was shared with it).
PROJECT_ROLES: frozenset[str] = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})

# The roles each role may give to someone (inviting them, or changing their role).
_GRANTABLE: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(Role.values),
    Role.ADMIN: frozenset({Role.ADMIN, Role.MEMBER, Role.BILLING}),
}


def role_grantable(*, by: str, role: str) -> bool:
    """May a member whose role is `by` give `role` to someone?"""
    return role in _GRANTABLE.get(by, frozenset())


def role_choices_grantable(*, by: str) -> list[tuple[str, str]]:
    """The (value, label) choices a member whose role is `by` may offer, in Role's order."""
    return [(value, label) for value, label in Role.choices if role_grantable(by=by, role=value)]


def member_manageable(*, by: str, target_role: str) -> bool:
    """May a member whose role is `by` change the role of, or remove, a member whose role is `target_role`?"""
    return by in _GRANTABLE and (target_role != Role.OWNER or by == Role.OWNER)
