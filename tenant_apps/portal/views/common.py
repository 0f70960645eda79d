"""Helpers shared by the portal views."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from tenant_apps.api.context import actor_of
from tenant_apps.audit.services import Actor
from tenants.models import Tenant


def tenant_of(request: HttpRequest) -> Tenant:
    return request.tenant  # type: ignore[attr-defined]


def actor(request: HttpRequest) -> Actor:
    return actor_of(request)


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the field it names (or at the top of the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def first_message(exc: ValidationError) -> str:
    return next(iter(exc.messages), "That did not work.")


def origin(request: HttpRequest) -> str:
    """This host's origin, e.g. http://acme.localhost:8000."""
    return request.build_absolute_uri("/").rstrip("/")
