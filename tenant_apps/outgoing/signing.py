"""The signature header, in Stripe's form: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, one
`v1` per active secret (two during a rotation's overlap)."""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets
from collections.abc import Sequence

SIGNATURE_HEADER = "Tenantry-Signature"
EVENT_ID_HEADER = "Tenantry-Event-Id"
EVENT_TYPE_HEADER = "Tenantry-Event-Type"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def secret_new() -> str:
    return SECRET_PREFIX + _secrets.token_urlsafe(32)


def signature_header(*, body: bytes, secrets: Sequence[str], timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + body
    parts = [f"t={timestamp}"]
    for secret in secrets:
        parts.append("v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest())
    return ",".join(parts)
