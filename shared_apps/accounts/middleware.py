"""Keeps each signed-in session's "last seen" (and its UserSession row) current, cheaply: at most one
write per session every SESSION_ACTIVITY_WRITE_SECONDS (the time of the last write rides in the session)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from shared_apps.accounts.services import SEEN_KEY, user_session_touch


class SessionActivityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self._touch(request)
        return self.get_response(request)

    def _touch(self, request: HttpRequest) -> None:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is None or session is None or not session.session_key or not user.is_authenticated:
            return
        now = time.time()
        if now - float(session.get(SEEN_KEY, 0) or 0) < settings.SESSION_ACTIVITY_WRITE_SECONDS:
            return
        user_session_touch(request=request, user=user)
        session[SEEN_KEY] = now  # saved with the response by the session middleware
