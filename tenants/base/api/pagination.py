"""Pagination of every API list (D66).

- `?page=` (the default): page numbers with a `count` (one COUNT query over the visible set).
- `?cursor=` (empty for the first page): keyset pagination. The opaque cursor holds the values of the
  list's ordering fields (with `id` as the tie-breaker) at the edge of the page, so the next page is
  `WHERE (order fields) after (those values) ORDER BY … LIMIT n+1`: no COUNT, no OFFSET, the same cost
  at page 200 as at page 1, and stable under inserts (a new row never shifts the rows you have not
  seen yet). Changing `ordering` invalidates the cursor (400 `invalid_cursor`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections import OrderedDict
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Q, QuerySet
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

_CURSOR_MAX_LENGTH = 2048


class InvalidCursor(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The cursor is not valid for this list (or its ordering changed). Start again without it."
    default_code = "invalid_cursor"


def _encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), default=_jsonable).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _decode(token: str) -> dict[str, Any]:
    if len(token) > _CURSOR_MAX_LENGTH:
        raise InvalidCursor()
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("v"), list)
        or not isinstance(payload.get("o"), list)
    ):
        raise InvalidCursor()
    return payload


class ApiPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    cursor_query_param = "cursor"

    cursor_mode = False

    # --- dispatch ---------------------------------------------------------------------------------

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list | None:  # type: ignore[override]
        if self.cursor_query_param not in request.query_params:
            return super().paginate_queryset(queryset, request, view)
        self.cursor_mode = True
        self.request = request
        return self._cursor_page(queryset, request)

    def get_paginated_response(self, data: Any) -> Response:
        if not self.cursor_mode:
            return super().get_paginated_response(data)
        return Response(OrderedDict([("next", self._next_url), ("previous", self._previous_url), ("results", data)]))

    # --- keyset pages -----------------------------------------------------------------------------

    @staticmethod
    def _ordering(queryset: QuerySet) -> list[str]:
        query = queryset.query
        ordering = list(query.order_by) if query.order_by else list(queryset.model._meta.ordering or [])
        names: list[str] = []
        for item in ordering:
            if not isinstance(item, str) or item.lstrip("-") == "?":
                raise InvalidCursor("This list's ordering cannot be paged with a cursor.")
            name = item.lstrip("-")
            name = "id" if name == "pk" else name
            names.append(("-" if item.startswith("-") else "") + name)
        if not any(n.lstrip("-") == "id" for n in names):
            names.append("-id" if names and names[-1].startswith("-") else "id")
        return names

    @staticmethod
    def _field(model: type[Model], path: str) -> tuple[Any, bool]:
        """The model field at `path` (`user__email` follows relations) and whether it may be NULL."""
        field: Any = None
        nullable = False
        current: Any = model
        for part in path.split("__"):
            if current is None:
                raise InvalidCursor("This list's ordering cannot be paged with a cursor.")
            try:
                field = current._meta.get_field(part)
            except FieldDoesNotExist:
                raise InvalidCursor("This list's ordering cannot be paged with a cursor.") from None
            nullable = nullable or bool(getattr(field, "null", False))
            current = field.related_model if field.is_relation else None
        if field is not None and field.is_relation:
            field = field.target_field  # ordering by a foreign key orders by its id
        return field, nullable

    @staticmethod
    def _row_value(row: Model, path: str) -> Any:
        value: Any = row
        parts = path.split("__")
        for i, part in enumerate(parts):
            if value is None:
                return None
            if i == len(parts) - 1:
                field = value._meta.get_field(part)
                return getattr(value, field.attname)
            value = getattr(value, part)
        return value

    @classmethod
    def _after(cls, model: type[Model], ordering: list[str], values: list[Any]) -> Q:
        """Rows strictly after `values` in `ordering` (PostgreSQL: NULLs last ascending, first descending)."""
        condition = Q(pk__in=[])
        equal = Q()
        for item, value in zip(ordering, values, strict=True):
            name, desc = item.lstrip("-"), item.startswith("-")
            if value is None:
                step = Q(**{f"{name}__isnull": False}) if desc else Q(pk__in=[])
                same = Q(**{f"{name}__isnull": True})
            else:
                step = Q(**{f"{name}__lt": value}) if desc else Q(**{f"{name}__gt": value})
                if not desc and cls._field(model, name)[1]:
                    step |= Q(**{f"{name}__isnull": True})
                same = Q(**{name: value})
            condition |= equal & step
            equal &= same
        return condition

    @classmethod
    def _values(cls, model: type[Model], ordering: list[str], raw: list[Any]) -> list[Any]:
        if len(raw) != len(ordering):
            raise InvalidCursor()
        values = []
        for item, value in zip(ordering, raw, strict=True):
            field, _ = cls._field(model, item.lstrip("-"))
            if value is not None and not isinstance(value, str | int | float | bool):
                raise InvalidCursor()
            try:
                values.append(None if value is None else field.to_python(value))
            except (DjangoValidationError, TypeError, ValueError, OverflowError):
                raise InvalidCursor() from None
        return values

    def _cursor_page(self, queryset: QuerySet, request: Request) -> list:
        size = self.get_page_size(request) or self.page_size
        model = queryset.model
        ordering = self._ordering(queryset)
        token = request.query_params.get(self.cursor_query_param, "")
        backwards = False
        position: list[Any] | None = None
        if token:
            payload = _decode(token)
            if payload["o"] != ordering:
                raise InvalidCursor()
            backwards = bool(payload.get("b"))
            position = self._values(model, ordering, payload["v"])
        walk = [o[1:] if o.startswith("-") else f"-{o}" for o in ordering] if backwards else ordering
        qs = queryset.order_by(*walk)
        if position is not None:
            qs = qs.filter(self._after(model, walk, position))
            lead, lead_value = walk[0].lstrip("-"), position[0]
            if lead_value is not None and not self._field(model, lead)[1]:
                # A range bound on the leading column, so the walk starts at the cursor in the index.
                qs = qs.filter(**{f"{lead}__lte" if walk[0].startswith("-") else f"{lead}__gte": lead_value})
        self.page_queryset = qs[: size + 1]  # kept for EXPLAIN in bench/api_list.py
        rows = list(self.page_queryset)
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
        key = [o.lstrip("-") for o in ordering]

        def cursor(row: Model, back: bool) -> str:
            values = [self._row_value(row, k) for k in key]
            return _encode({"o": ordering, "v": values, "b": back})

        url = request.build_absolute_uri()
        url = remove_query_param(url, "page")
        self._next_url = self._previous_url = None
        if rows:
            if more or backwards:
                self._next_url = replace_query_param(url, self.cursor_query_param, cursor(rows[-1], False))
            if (backwards and more) or (not backwards and position is not None):
                self._previous_url = replace_query_param(url, self.cursor_query_param, cursor(rows[0], True))
        return rows

    # --- schema -----------------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema: dict) -> dict:
        base = super().get_paginated_response_schema(schema)
        base["required"] = ["results"]
        base["properties"]["count"]["description"] = (
            "Visible items in total (page-number mode only; absent with `cursor`)."
        )
        return base

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        params = super().get_schema_operation_parameters(view)
        params.append(
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Opaque keyset cursor from `next`/`previous`; send it empty for the first page. With a "
                    "cursor the response has no `count` and every page costs the same."
                ),
                "schema": {"type": "string"},
            }
        )
        return params
