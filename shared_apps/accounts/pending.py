"""The half-way state of a two-step browser sign-in: the password was right, the second factor is due.
Kept in the (still anonymous) session for TWO_FACTOR_PENDING_SECONDS; never holds the password."""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest

from shared_apps.accounts.models import User

PENDING_KEY = "two_factor_pending"


def pending_start(*, request: HttpRequest, user: User, next_url: str, tenant_id: int | None) -> None:
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "u": user.pk,
        "t": tenant_id,
        "next": next_url,
        "exp": time.time() + settings.TWO_FACTOR_PENDING_SECONDS,
    }


def pending_user(*, request: HttpRequest, tenant_id: int | None) -> tuple[User, str] | None:
    """(user, next URL) of an unexpired pending sign-in on this host, else None."""
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict) or data.get("t") != tenant_id or float(data.get("exp", 0)) < time.time():
        return None
    if not isinstance(data.get("u"), int):
        return None
    user = User.objects.filter(pk=int(data["u"]), is_active=True).first()
    return (user, str(data.get("next") or "")) if user is not None else None


def pending_clear(*, request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)
