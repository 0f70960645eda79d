"""Token scopes (D64): `read` (safe methods), `write` (changes to projects, tasks and your own tokens),
`admin` (members, invitations, sharing, audit log, organization settings). A wider scope includes
the narrower ones: admin ⊇ write ⊇ read. A portal session is not limited by scopes."""

from __future__ import annotations

from collections.abc import Iterable

READ = "read"
WRITE = "write"
ADMIN = "admin"
SCOPES: tuple[str, ...] = (READ, WRITE, ADMIN)
SCOPE_CHOICES = [
    (READ, "read: list and fetch"),
    (WRITE, "write: create, change and delete projects and tasks"),
    (ADMIN, "admin: members, invitations, sharing, audit log, settings"),
]
_RANK = {READ: 0, WRITE: 1, ADMIN: 2}


def scopes_default() -> list[str]:
    """Tokens created without a choice (and every token made before scopes existed): full access."""
    return list(SCOPES)


def scopes_effective(granted: Iterable[str]) -> frozenset[str]:
    top = max((_RANK[s] for s in granted if s in _RANK), default=-1)
    return frozenset(s for s, rank in _RANK.items() if rank <= top)


def scopes_normalized(granted: Iterable[str]) -> list[str]:
    """The stored, canonical form: every scope implied, in SCOPES order."""
    effective = scopes_effective(granted)
    return [s for s in SCOPES if s in effective]
