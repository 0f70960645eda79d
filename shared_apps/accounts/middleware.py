"""Keeps each signed-in session's "last seen" (and its UserSession row) current, cheaply: at most one
write per session every SESSION_ACTIVITY_WRITE_SECONDS (the time of the last write rides in the session)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

SEEN_KEY = "_activity_seen"


class SessionActivityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is None or session is None or not user.is_authenticated or not session.session_key:
            return response
        now = time.time()
        if now - float(session.get(SEEN_KEY, 0) or 0) < settings.SESSION_ACTIVITY_WRITE_SECONDS:
            return response
        from shared_apps.accounts.services import user_session_touch

        user_session_touch(request=request, user=user)  # type: ignore[arg-type]
        session[SEEN_KEY] = now
        session.save()
        return response
