"""Writes of an organization that is being moved (tenants/moves.py) wait outside: 503 + Retry-After.

Two layers, so that no write is lost or duplicated while the move's last changes are copied:

* `tenant_move_gate`: the resolution cache's snapshot of the organization carries `writes_paused_at`
  (0 queries); a write (any method but GET/HEAD/OPTIONS) gets 503 `tenant_moving` with Retry-After.
  Reads go on, on the source, until the routing row flips.
* `MovedAwayMiddleware`: a write that passed the gate just before the pause reached this process
  waits on the move's table locks on the source, then hits the trigger the move leaves there
  (`tenantry_moved_away`); that error becomes the same 503 instead of a 500. Its transaction rolled
  back, so the client's retry writes it once, on the target.

The end of a pause is seen at once, not at the process's next resolution check (up to
TENANT_RESOLUTION_RECHECK_SECONDS later, which used to add up to a second to the writes that waited):
`tenant_move_refresh` reads the routing row for a write the cached snapshot shows paused (one query,
only while paused), and a write refused by the trigger drops the process's cached resolutions (D143).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from tenants.base.errors import error_response
from tenants.models import Tenant
from tenants.resolution import resolution_cache_forget_local

logger = logging.getLogger(__name__)

MOVED_AWAY_MARKER = "tenantry_moved_away"
RETRY_AFTER_SECONDS = "1"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def pause_in_effect(paused_at: dt.datetime | None, *, now: dt.datetime | None = None) -> bool:
    """Whether a routing row's `writes_paused_at` still holds writes: set, and younger than
    TENANT_MOVE_PAUSE_MAX_SECONDS. An older pause was left by a mover that died (D144): the table
    locks died with its connection and the routing row still names the source, so writes go on there."""
    if paused_at is None:
        return False
    age = ((now or timezone.now()) - paused_at).total_seconds()
    return age < settings.TENANT_MOVE_PAUSE_MAX_SECONDS


def _moving(request: HttpRequest) -> HttpResponse:
    response = error_response(
        request,
        status=503,
        code="tenant_moving",
        message="This organization is moving to another database; writes resume in a moment. Retry shortly.",
    )
    response["Retry-After"] = RETRY_AFTER_SECONDS
    # An expected answer during a planned move, not a server fault: one INFO line instead of
    # django.request's "Service Unavailable" at ERROR for every paused write (operators page on those).
    logger.info("write paused by a move: 503 tenant_moving for %s %s", request.method, request.path)
    response._has_been_logged = True  # type: ignore[attr-defined]  # read by django.utils.log.log_response
    return response


def tenant_move_refresh(request: HttpRequest, tenant: Any) -> None:
    """Before routing a write that the cached snapshot shows paused: read the routing row. If the pause
    is over (the move flipped or was aborted), `tenant` takes the row's shard and the write goes on."""
    if not pause_in_effect(getattr(tenant, "writes_paused_at", None)) or request.method in _READS:
        return
    row = Tenant.objects.filter(pk=tenant.pk).values_list("shard", "writes_paused_at").first()
    if row is not None and not pause_in_effect(row[1]):
        tenant.shard, tenant.writes_paused_at = row[0], None
        resolution_cache_forget_local()


def tenant_move_gate(request: HttpRequest, tenant: Any) -> HttpResponse | None:
    if request.method in _READS or not pause_in_effect(getattr(tenant, "writes_paused_at", None)):
        return None
    return _moving(request)


class MovedAwayMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DatabaseError) and MOVED_AWAY_MARKER in str(exception):
            # This process routed the write to the old copy: its cached routing is stale.
            resolution_cache_forget_local()
            return _moving(request)
        return None
