"""The engine's plumbing, shared by every resource: lookup, events, rendering, expansion, listing.

Every resource is declared once as a :class:`Resource`. One generic implementation serves all of them:
``GET /v1/<resource>`` (:meth:`EngineCore.list_of`: filters, ``created``, newest-first pagination with
``limit``/``starting_after``/``ending_before``), ``GET /v1/<resource>/{id}`` (:meth:`EngineCore.retrieve`)
and ``expand[]`` on either (:meth:`EngineCore.expand`). Resource modules add what is particular to them
by overriding :meth:`EngineCore.render`, :meth:`EngineCore.retrieve` or :meth:`EngineCore._includable`
and calling ``super()``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from deploy.stripe_standin.constants import API_VERSION, MAX_EXPAND_DEPTH
from deploy.stripe_standin.errors import invalid_param, missing_param, no_such
from deploy.stripe_standin.store import Store
from deploy.stripe_standin.util import Obj, diff_previous, get_int, get_str, public

MAX_LIST_LIMIT = 100  # Stripe's list limit

EventSink = Callable[[Obj], None]
# A list filter: (engine, rows, params) -> rows. A plain string names a parameter matched exactly
# against the field of the same name (``?customer=cus_x`` keeps rows whose ``customer`` is ``cus_x``).
ListFilter = Callable[[Any, list[Obj], Obj], list[Obj]]


@dataclass(frozen=True)
class Resource:
    kind: str  # store collection and ``object`` value, e.g. "checkout.session"
    path: str | None = None  # "/v1/checkout/sessions": list + retrieve routes; None = no such routes
    label: str | None = None  # as in "No such <label>: 'id'" (default: kind)
    filters: tuple[str | ListFilter, ...] = ()  # applied in order
    hide_deleted: bool = False  # deleted objects stay retrievable but are not listed

    @property
    def name(self) -> str:
        return self.label or self.kind


class _Missing:
    pass


MISSING: Any = _Missing()


def plain_list(data: list[Any], url: str, **extra: Any) -> Obj:
    """A one-page Stripe list object."""
    return {"object": "list", "data": data, "has_more": False, **extra, "url": url}


class EngineCore:
    """Every public method runs with ``store.lock`` held by the caller (the HTTP layer takes it per request).
    Objects are stored unexpanded (ids for references); :meth:`render` produces the API shape."""

    RESOURCES: ClassVar[dict[str, Resource]] = {}

    def __init__(
        self,
        store: Store,
        *,
        public_url: str,
        api_version: str = API_VERSION,
        on_event: EventSink | None = None,
        webhooks_enabled: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.api_version = api_version
        self.on_event = on_event
        self.webhooks_enabled = webhooks_enabled or (lambda: False)
        self.clock = clock
        self.request: Obj = {"id": None, "idempotency_key": None}

    # -- lookup -----------------------------------------------------------------------------------------
    def now(self) -> int:
        return int(self.clock())

    def label(self, kind: str) -> str:
        resource = self.RESOURCES.get(kind)
        return resource.name if resource else kind

    def get(self, kind: str, obj_id: str) -> Obj:
        obj = self.store.get(kind, obj_id) if obj_id else None
        if obj is None:
            raise no_such(self.label(kind), obj_id)
        return obj

    def ref(self, kind: str, obj_id: str | None, param: str) -> Obj:
        """Resolve an id passed as a parameter: a miss is a 400 with ``param`` set, like Stripe."""
        if not obj_id:
            raise missing_param(param)
        obj = self.store.get(kind, obj_id)
        if obj is None or obj.get("deleted"):
            raise no_such(self.label(kind), obj_id, param=param, status=400)
        return obj

    # -- events -----------------------------------------------------------------------------------------
    def emit(self, event_type: str, kind: str, obj: Obj, previous: Obj | None = None) -> Obj:
        return self.emit_data(event_type, self.render(kind, obj), previous)

    def emit_change(self, event_type: str, kind: str, obj: Obj, before: Obj, *, always: bool = False) -> Obj:
        """Emit ``event_type`` with ``previous_attributes`` = what changed since ``before`` (a rendering taken
        before the change); only when something changed unless ``always``. Returns the new rendering."""
        after = self.render(kind, obj)
        previous = diff_previous(before, after)
        if previous or always:
            self.emit(event_type, kind, obj, previous)
        return after

    def emit_data(self, event_type: str, data_object: Obj, previous: Obj | None = None) -> Obj:
        """Record an event whose ``data.object`` is given as rendered (e.g. the snapshot of a deleted object)."""
        event: Obj = {
            "id": self.store.new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": {"object": data_object},
            "livemode": False,
            "pending_webhooks": 1 if self.webhooks_enabled() else 0,
            "request": dict(self.request),
            "type": event_type,
        }
        if previous is not None:
            event["data"]["previous_attributes"] = previous
        self.store.put("event", event)
        if self.on_event:
            self.on_event(event)
        return event

    def event_body(self, event: Obj) -> bytes:
        return json.dumps(public(event), indent=2).encode("utf-8")

    def mark_delivered(self, event_id: str) -> None:
        with self.store.lock:
            event = self.store.get("event", event_id)
            if event is not None:
                event["pending_webhooks"] = max(0, int(event.get("pending_webhooks", 0)) - 1)

    # -- rendering --------------------------------------------------------------------------------------
    def render(self, _kind: str, obj: Obj) -> Obj:
        """The API shape of a stored object; a deleted one renders as its tombstone."""
        if obj.get("deleted"):
            return {"id": obj["id"], "object": obj["object"], "deleted": True}
        return public(obj)

    def render_id(self, obj_id: str) -> Obj | None:
        found = self.store.find(obj_id)
        if found is None:
            return None
        return self.render(*found)

    # -- retrieve and list, for every resource ---------------------------------------------------------
    def retrieve(self, kind: str, obj_id: str) -> Obj:
        return self.render(kind, self.get(kind, obj_id))

    def list_of(self, kind: str, params: Obj) -> Obj:
        resource = self.RESOURCES[kind]
        assert resource.path is not None
        rows = self.store.all(kind)
        if resource.hide_deleted:
            rows = [r for r in rows if not r.get("deleted")]
        for step in resource.filters:
            if isinstance(step, str):
                value = get_str(params, step)
                if value:
                    rows = [r for r in rows if r.get(step) == value]
            else:
                rows = step(self, rows, params)
        return self.list_object(kind, rows, params, resource.path)

    def list_object(self, kind: str, rows: list[Obj], params: Obj, url: str) -> Obj:
        """Stripe list: newest first, ``limit`` (1-100, default 10), ``starting_after``/``ending_before``."""
        limit = get_int(params, "limit")
        if limit is None:
            limit = 10
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise invalid_param("limit", "Invalid limit: must be between 1 and 100", "parameter_invalid_integer")
        rows = _filter_created(rows, params)
        rows = sorted(rows, key=lambda o: (o.get("created", 0), o["_seq"]), reverse=True)
        after = get_str(params, "starting_after")
        before = get_str(params, "ending_before")
        ids = [r["id"] for r in rows]
        if after:
            if after not in ids:
                raise no_such(self.label(kind), after, param="starting_after", status=400)
            rows = rows[ids.index(after) + 1 :]
            page, has_more = rows[:limit], len(rows) > limit
        elif before:
            if before not in ids:
                raise no_such(self.label(kind), before, param="ending_before", status=400)
            rows = rows[: ids.index(before)]
            page, has_more = rows[-limit:], len(rows) > limit
        else:
            page, has_more = rows[:limit], len(rows) > limit
        return {
            "object": "list",
            "data": [self.render(kind, r) for r in page],
            "has_more": has_more,
            "url": url,
        }

    # -- expansion --------------------------------------------------------------------------------------
    def expand(self, obj: Any, paths: list[str]) -> Any:
        for path in paths:
            parts = path.split(".")
            if len([p for p in parts if p != "data"]) > MAX_EXPAND_DEPTH:
                raise invalid_param("expand", f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property.")
            self._expand_one(obj, parts, path)
        return obj

    def _expand_one(self, node: Any, parts: list[str], full: str) -> None:
        if isinstance(node, list):
            for item in node:
                self._expand_one(item, parts, full)
            return
        if not isinstance(node, dict) or not parts:
            return
        key, rest = parts[0], parts[1:]
        if key not in node:
            includable = self._includable(node, key)
            if includable is MISSING:
                raise invalid_param("expand", f"This property cannot be expanded ({full}).")
            node[key] = includable
        value = node[key]
        if isinstance(value, str):
            rendered = self.render_id(value)
            if rendered is None:
                raise invalid_param("expand", f"This property cannot be expanded ({full}).")
            node[key] = value = rendered
        if rest and value is not None:
            self._expand_one(value, rest, full)

    def _includable(self, _node: Obj, _key: str) -> Any:
        """A property that is only present when expanded (``expand[]=payments`` on an invoice)."""
        return MISSING


def _filter_created(rows: list[Obj], params: Obj) -> list[Obj]:
    created = params.get("created")
    if created in (None, ""):
        return rows
    if isinstance(created, dict):
        bounds = {op: get_int(created, op, param=f"created[{op}]") for op in ("gt", "gte", "lt", "lte")}
    else:
        exact = get_int(params, "created")
        bounds = {"gte": exact, "lte": exact}

    def ok(row: Obj) -> bool:
        c = row.get("created", 0)
        return not (
            (bounds.get("gt") is not None and not c > bounds["gt"])
            or (bounds.get("gte") is not None and not c >= bounds["gte"])
            or (bounds.get("lt") is not None and not c < bounds["lt"])
            or (bounds.get("lte") is not None and not c <= bounds["lte"])
        )

    return [r for r in rows if ok(r)]
