"""Events: recorded for every change; listed and retrieved through the generic resource code."""

from __future__ import annotations

from deploy.stripe_standin.resources.core import EngineCore, Resource
from deploy.stripe_standin.util import Obj, get_list, get_str


def _type_matches(event_type: str, pattern: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def _by_type(_engine: EngineCore, rows: list[Obj], p: Obj) -> list[Obj]:
    wanted = get_list(p, "types") or []
    single = get_str(p, "type")
    if single:
        wanted = [*wanted, single]
    if wanted:
        rows = [r for r in rows if any(_type_matches(r["type"], w) for w in wanted)]
    return rows


RESOURCES = (Resource("event", "/v1/events", filters=(_by_type,)),)
