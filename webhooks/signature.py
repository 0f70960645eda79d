"""Stripe-Signature verification on the raw body (stdlib only; several secrets for rotation)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence


class SignatureError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_header(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                timestamp = None
        elif key == "v1" and value:
            signatures.append(value.strip())
    return timestamp, signatures


def verify(*, body: bytes, header: str | None, secrets: Sequence[str], tolerance: int, now: float | None = None) -> int:
    """Return the signed timestamp, or raise SignatureError. A match against any secret and any v1 passes."""
    if not header:
        raise SignatureError("signature_missing", "The Stripe-Signature header is missing.")
    timestamp, signatures = parse_header(header)
    if timestamp is None or not signatures:
        raise SignatureError("signature_malformed", "The Stripe-Signature header is malformed.")
    if not secrets:
        raise SignatureError("signature_invalid", "No webhook secret is configured.")
    now = time.time() if now is None else now
    if timestamp < now - tolerance:
        raise SignatureError("signature_expired", "The signature timestamp is too old.")
    if timestamp > now + tolerance:
        raise SignatureError("signature_future", "The signature timestamp is in the future.")
    signed = str(timestamp).encode() + b"." + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return timestamp
    raise SignatureError("signature_invalid", "No signature matches the payload.")


def sign(*, body: bytes, secret: str, timestamp: int | None = None) -> str:
    """Build a header the way Stripe does (tests, the ingest benchmark)."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"
