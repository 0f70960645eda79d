"""Secrets shown once and stored hashed: `<scheme>_<prefix>_<secret>`; the prefix finds the row."""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_TOKEN_SCHEME = "tnt"  # noqa: S105 - a public prefix, not a secret
INVITATION_SCHEME = "inv"
_PREFIX_MAX_LENGTH = 16


def secret_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def secret_new(*, scheme: str) -> tuple[str, str]:
    """(lookup prefix, full secret string)."""
    prefix = secrets.token_hex(6)
    return prefix, f"{scheme}_{prefix}_{secrets.token_urlsafe(32)}"


def secret_prefix(raw: str, *, scheme: str) -> str | None:
    """The lookup prefix of a well-formed secret of `scheme`, else None."""
    given_scheme, _, rest = raw.partition("_")
    prefix, _, secret = rest.partition("_")
    if given_scheme != scheme or not prefix or not secret or len(prefix) > _PREFIX_MAX_LENGTH:
        return None
    return prefix


def secret_matches(*, stored_hash: str, raw: str) -> bool:
    return hmac.compare_digest(stored_hash, secret_hash(raw))
