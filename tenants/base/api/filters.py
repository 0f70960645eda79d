"""Filter fields shared by the API's list endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601, normalised to UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts."""

    def strptime(self, value: str, format: str) -> dt.datetime:
        parsed = super().strptime(value, format)
        try:
            return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else parsed
        except (OverflowError, ValueError):
            raise forms.ValidationError("Date and time out of range.", code="invalid") from None

    def to_python(self, value: Any) -> Any:
        result = super().to_python(value)
        if isinstance(result, dt.datetime) and result.tzinfo is not None:
            try:
                return result.astimezone(dt.UTC)
            except (OverflowError, ValueError):
                raise forms.ValidationError("Date and time out of range.", code="invalid") from None
        return result


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField
