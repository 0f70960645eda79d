"""Who is acting and from where: built once per request (tenants.base.api.context.actor_of) or by a
command, and passed to every service that writes, which records it in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    user: Any  # the acting shared_apps.accounts User, or None (anonymous, a command, the system)
    ip: str | None = None
    request_id: str = ""
