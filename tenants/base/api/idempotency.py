"""`Idempotency-Key` on every POST, PATCH and DELETE under /api/v1/ (D61).

The request runs inside one transaction that first takes a transaction-scoped advisory lock on
(organization, credential, key):

- lock not available: another request with this key is running -> 409 `idempotency_key_in_progress`;
- a stored row with another fingerprint (method, path, body) -> 422 `idempotency_key_reused`;
- a stored row with this fingerprint -> its status and body again, `Idempotent-Replayed: true`,
  and the view does not run;
- otherwise the view runs; a 2xx response is stored in the same transaction as the view's writes
  (so a crash leaves neither), an error response is not stored and the transaction is rolled back.

Rows live in PostgreSQL (public schema, by tenant id): they survive a Valkey outage and a restart,
and `api.idempotency_keys_expire` (Celery beat) deletes those older than IDEMPOTENCY_TTL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone
from rest_framework import exceptions, status

from tenants.base.api.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
UNSAFE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
IDEMPOTENCY_TTL = dt.timedelta(hours=24)
KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, like Stripe's keys (UUIDs fit)


class KeyInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."
    default_code = "idempotency_key_in_progress"


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used with a different request."
    default_code = "idempotency_key_reused"


class KeyInvalid(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Idempotency-Key must be 1-255 visible ASCII characters."
    default_code = "invalid_idempotency_key"


@dataclass(frozen=True)
class Claim:
    tenant_id: int
    credential: str
    key: str
    fingerprint: str
    method: str
    path: str


@dataclass(frozen=True)
class Stored:
    status: int
    content_type: str
    body: bytes


def credential_of(request: Any) -> str | None:
    """The credential a key belongs to: the token, or the signed-in user's session. None: anonymous."""
    token = getattr(request, "auth", None)
    if token is not None and getattr(token, "pk", None) is not None:
        return f"token:{token.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def fingerprint_of(*, method: str, path: str, data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode("utf-8", "surrogatepass")).hexdigest()


def wanted(request: Any) -> str | None:
    """The request's key when idempotency applies to it (raises 400 on a malformed key)."""
    if request.method not in UNSAFE_METHODS:
        return None
    raw = request._request
    if not raw.path.startswith("/api/v1/") or getattr(raw, "tenant", None) is None:
        return None
    key = raw.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_RE.match(key):
        raise KeyInvalid()
    return key


def claim(*, request: Any, key: str, credential: str) -> Claim | Stored:
    """Inside the request's transaction: lock the key, then return the stored response to replay or a
    claim to store the new one under. Raises 409/422 as described above."""
    raw = request._request
    path = raw.get_full_path()
    data = request.data  # parsed (a malformed body is a 400 here, before anything is stored)
    c = Claim(
        tenant_id=raw.tenant.pk,
        credential=credential,
        key=key,
        fingerprint=fingerprint_of(method=raw.method, path=path, data=data),
        method=raw.method,
        path=path[:2048],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 61))",
            [f"idempotency:{c.tenant_id}:{c.credential}:{c.key}"],
        )
        (locked,) = cursor.fetchone()
    if not locked:
        raise KeyInProgress()
    row = (
        IdempotencyKey.objects.filter(
            tenant_id=c.tenant_id,
            credential=c.credential,
            key=c.key,
            created_at__gt=timezone.now() - IDEMPOTENCY_TTL,
        )
        .only("fingerprint", "status", "content_type", "body")
        .first()
    )
    if row is None:
        return c
    if row.fingerprint != c.fingerprint:
        raise KeyReused()
    return Stored(status=row.status, content_type=row.content_type, body=bytes(row.body))


def store(*, claim: Claim, status_code: int, content_type: str, body: bytes) -> None:
    """Record the response (same transaction as the view's writes). An expired row for the key is replaced."""
    IdempotencyKey.objects.filter(tenant_id=claim.tenant_id, credential=claim.credential, key=claim.key).delete()
    IdempotencyKey.objects.create(
        tenant_id=claim.tenant_id,
        credential=claim.credential,
        key=claim.key,
        fingerprint=claim.fingerprint,
        method=claim.method,
        path=claim.path,
        status=status_code,
        content_type=content_type,
        body=body,
    )


def idempotency_keys_expire(*, now: dt.datetime | None = None) -> int:
    """Delete keys older than IDEMPOTENCY_TTL; returns how many."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
