"""ETags and preconditions (D62): a single object's ETag is a hash of its JSON representation, so
GET, PATCH and the locked row inside a write all agree on it without a version column."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rest_framework import exceptions, status


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you read it (If-Match does not match its ETag). Fetch it again."
    default_code = "precondition_failed"


def etag_of(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return '"' + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32] + '"'


def _tags(header: str) -> set[str]:
    tags = set()
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag:
            tags.add(tag)
    return tags


def none_match(header: str | None, etag: str) -> bool:
    """True when If-None-Match names this ETag (or `*`): the client's copy is current."""
    if not header:
        return False
    tags = _tags(header)
    return "*" in tags or etag in tags


def if_match_check(request: Any, current: Any) -> None:
    """Raise 412 `precondition_failed` when the request has an If-Match that does not match `current`
    (the object's representation, computed from the row locked in the caller's transaction)."""
    header = request._request.headers.get("If-Match") if hasattr(request, "_request") else None
    if header is None:
        return
    tags = _tags(header)
    if "*" in tags:
        return
    if etag_of(current) not in tags:
        raise PreconditionFailed()
