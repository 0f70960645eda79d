"""The tenant-scoped base viewset and the router every tenant resource is registered on (issue #18).

`TenantViewSet` is `ApiGenericView`'s behaviour (request id, token scopes, Idempotency-Key, ETag and
If-Match, RateLimit-* headers; tenant_apps/api/views.py) on a DRF `GenericViewSet`:

- the organization and the caller's membership are resolved once, by the membership gate
  (`IsTenantMember`, the default permission class), and read from the request afterwards
  (`self.tenant`, `self.membership`);
- `get_queryset()` is what the caller may see (`visible_queryset()`, written by each resource), so a
  list never shows, and `get_object()` never finds, anything else: "not visible" is 404;
- `get_object()` then runs the permission classes' object checks: "visible but not allowed" is 403.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import exceptions
from rest_framework.routers import SimpleRouter
from rest_framework.viewsets import GenericViewSet

from shared_apps.accounts.models import Membership
from shared_apps.accounts.permissions import IsTenantMember
from tenants.base.api.context import tenant_of
from tenants.base.api.views import _ApiBaseMixin
from tenants.models import Tenant


class TenantViewSet(_ApiBaseMixin, GenericViewSet):
    permission_classes = [IsTenantMember]
    lookup_value_converter = "id"  # ids fit a bigint: an absurd id is a 404, never a database error
    scope_area: str | None = None  # "admin" for administrative resources (D64); actions may set it
    if_match = False  # True: PATCH/DELETE compare If-Match on the locked row (documented in the schema)

    @property
    def membership(self) -> Membership:
        return self.request.membership  # type: ignore[attr-defined]

    @property
    def tenant(self) -> Tenant:
        return tenant_of(self.request)

    def visible_queryset(self) -> QuerySet[Any]:
        """What the caller may see of this resource (each resource writes its own)."""
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no tenant
            model_queryset: QuerySet[Any] | None = getattr(type(self), "queryset", None)
            return model_queryset.none() if model_queryset is not None else QuerySet().none()
        return self.visible_queryset()

    def get_object(self) -> Model:
        """One visible object (404 otherwise), then the object permission checks (403)."""
        lookup = self.lookup_url_kwarg or self.lookup_field
        obj = self.get_queryset().filter(**{self.lookup_field: self.kwargs[lookup]}).first()
        if obj is None:
            raise exceptions.NotFound()
        self.check_object_permissions(self.request, obj)
        return obj

    @staticmethod
    def require(allowed: bool, message: str) -> None:
        """An explicit "visible but not allowed" (403) for a decision that is not a permission class."""
        if not allowed:
            raise exceptions.PermissionDenied(message)


class TenantRouter(SimpleRouter):
    """`path()` routes (ids through the `id` converter) named as the API's URLs always were: the list
    is `<basename>s` (`projects`), the object `<basename>-detail`, an action `<basename>-<url_name>`."""

    def __init__(self) -> None:
        super().__init__(trailing_slash=True, use_regex_path=False)
        self.routes = [
            route._replace(name="{basename}s") if route.name == "{basename}-list" else route for route in self.routes
        ]
