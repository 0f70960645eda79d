"""Helpers shared by the portal views; `actor` and `tenant_of` are the API's own, re-exported."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from tenants.base.api.context import actor_of as actor
from tenants.base.api.context import tenant_of

__all__ = ["actor", "apply_errors", "first_message", "meter", "origin", "tenant_of"]


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the field it names (or at the top of the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def first_message(exc: ValidationError) -> str:
    return next(iter(exc.messages), "That did not work.")


def meter(used: int, limit: int | None) -> dict:
    """A usage figure against its plan limit (None = unlimited) for the meter template."""
    percent = 0 if not limit else min(100, round(100 * used / limit))
    return {"used": used, "limit": limit, "percent": percent}


def origin(request: HttpRequest) -> str:
    """This host's origin, e.g. http://acme.localhost:8000."""
    return request.build_absolute_uri("/").rstrip("/")
