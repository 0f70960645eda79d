"""Sign-in lockout on top of django-axes (see docs/decisions.md, D42).

Every failed sign-in, on every surface (the API token endpoint, any organization's portal, the public
sign-in, signup and invitation acceptance with an existing account, the operator admin), is one
`axes.AccessAttempt` row in PostgreSQL's public schema, keyed by the normalised email and the client
IP. Two budgets are checked: failures against one account (from anywhere) and failures from one IP
(against any account). Past a budget, each further failure doubles the wait before the next attempt
is allowed, up to a ceiling; failures are remembered for `LOGIN_LOCKOUT_MEMORY_HOURS`.

Valkey plays no part: an outage neither unlocks anyone nor stops counting.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.utils import timezone

from tenants.base.network import client_ip

__all__ = ["LockoutHandler", "client_ip", "lockout_remaining", "lockout_username"]


def normalised_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the email the attempt was made for, in one spelling."""
    credentials = credentials or {}
    raw = credentials.get("username") or credentials.get("email")
    if raw is None and request is not None:
        raw = request.POST.get("email") or request.POST.get("username")
    return normalised_email(raw)


def _delay(failures: int, limit: int) -> timedelta:
    """The wait after `failures` (>= limit) failures: base, then doubled per further failure, capped."""
    base = settings.LOGIN_LOCKOUT_BASE_SECONDS
    ceiling = settings.LOGIN_LOCKOUT_MAX_SECONDS
    steps = min(failures - limit, 30)
    return timedelta(seconds=min(base * (2**steps), ceiling))


def lockout_remaining(*, email: str | None, ip: str | None) -> int:
    """Seconds until another attempt for this email from this IP is allowed (0: allowed now)."""
    now = timezone.now()
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - settings.AXES_COOLOFF_TIME)
    budgets = (
        ({"username": email}, settings.LOGIN_LOCKOUT_ACCOUNT_FAILURES, email),
        ({"ip_address": ip}, settings.LOGIN_LOCKOUT_IP_FAILURES, ip),
    )
    remaining = 0.0
    for lookup, limit, key in budgets:
        if not key:
            continue
        agg = recent.filter(**lookup).aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        failures, last = agg["failures"] or 0, agg["last"]
        if failures >= limit and last is not None:
            remaining = max(remaining, (last + _delay(failures, limit) - now).total_seconds())
    return math.ceil(remaining) if remaining > 0 else 0


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler with two budgets (account, IP) and growing delays instead of one window."""

    def is_locked(self, request: Any, credentials: dict | None = None) -> bool:
        return (
            lockout_remaining(
                email=lockout_username(request, credentials), ip=getattr(request, "axes_ip_address", None)
            )
            > 0
        )


def login_failure_record(*, request: HttpRequest, email: str) -> None:
    """Count a failed sign-in that Django's authenticate() did not see fail (a right password used
    where that account may not sign in): the same row and budget as a wrong password."""
    from django.contrib.auth.signals import user_login_failed

    user_login_failed.send(sender=__name__, credentials={"username": normalised_email(email)}, request=request)


def login_failures_reset(*, email: str) -> int:
    """After a sign-in that succeeded where it was attempted: this account's failures start over.
    Other accounts' failures from the same IP are kept (they are someone else's budget)."""
    return AxesProxyHandler.reset_attempts(username=normalised_email(email))


def request_ip(request: HttpRequest) -> str | None:
    AxesProxyHandler.update_request(request)
    return getattr(request, "axes_ip_address", None)
