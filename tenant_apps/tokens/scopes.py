"""Token scopes (D64): `read` (safe methods), `write` (changes to projects, tasks and your own tokens),
`admin` (members, invitations, sharing, audit log, organization settings). A wider scope includes
the narrower ones: admin ⊇ write ⊇ read. A portal session is not limited by scopes."""

from __future__ import annotations

from collections.abc import Iterable

from tenants.base.api.scopes import ADMIN, READ, SCOPES, WRITE, scopes_effective

SCOPE_CHOICES = [
    (READ, "read: list and fetch"),
    (WRITE, "write: create, change and delete projects and tasks"),
    (ADMIN, "admin: members, invitations, sharing, audit log, settings"),
]


def scopes_default() -> list[str]:
    """Tokens created without a choice (and every token made before scopes existed): full access."""
    return list(SCOPES)


def scopes_normalized(granted: Iterable[str]) -> list[str]:
    """The stored, canonical form: every scope implied, in SCOPES order."""
    effective = scopes_effective(granted)
    return [s for s in SCOPES if s in effective]
