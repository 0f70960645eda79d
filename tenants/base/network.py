"""The client's address, one rule for sign-in lockout, audit and throttles (docs/decisions.md D46)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def client_ip(request: Any) -> str | None:
    """The client's IP. `X-Forwarded-For` is trusted only when `TRUSTED_PROXY_COUNT` says how many proxies
    in front of us append to it (the entry that many places from the right); otherwise `REMOTE_ADDR`,
    because a client can write any `X-Forwarded-For` it likes."""
    raw = getattr(request, "_request", request)
    meta = raw.META
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    candidate = meta.get("REMOTE_ADDR")
    if proxies > 0:
        hops = [h.strip() for h in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address((candidate or "").strip()))
    except ValueError:
        return None
