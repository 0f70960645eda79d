"""Tenant resolution: host -> tenant (cached, zero queries warm) -> schema -> url conf -> lifecycle gate."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.urls import set_urlconf
from django_tenants.utils import remove_www

from tenants.base.errors import error_response
from tenants.base.health import healthz
from tenants.base.observability import metrics_view
from tenants.base.request import tenant_request
from tenants.conn import connection
from tenants.models import TenantStatus
from tenants.moves_gate import tenant_move_gate, tenant_move_refresh
from tenants.resolution import tenant_for_host
from tenants.routing import tenant_shard_context

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths answered on every host, before resolution (load balancer and orchestrator probes).
HOSTLESS_PATHS = frozenset({"/healthz", "/healthz/", "/metrics"})
# Writes a suspended (read-only) organization may still make: the way back is to pay.
# The portal's sign-in, sign-out and password reset stay open so that an owner can get in to pay.
SUSPENDED_WRITABLE_PATHS = frozenset(
    {
        "/api/v1/billing/checkout/",
        "/api/v1/billing/portal/",
        "/billing/checkout/",
        "/billing/portal/",
        "/login/",
        "/logout/",
    }
)
SUSPENDED_WRITABLE_PREFIXES = ("/password-reset/",)


class TenantResolutionMiddleware:
    """Replaces django-tenants' TenantMainMiddleware.

    The stock middleware queries Domain on every request and switches to `public` first, which
    costs one query and one extra `SET search_path` per request. Here the lookup is cached and the
    connection is pointed at the tenant's schema once, so the search path is set at most once per
    request (TENANT_LIMIT_SET_CALLS keeps it from being repeated before every cursor).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in HOSTLESS_PATHS:
            # Probes and scrapers hit pods by IP: answer before host validation and resolution.
            _use_public(request)
            return metrics_view(request) if request.path == "/metrics" else healthz(request)
        try:
            hostname = remove_www(request.get_host().split(":")[0])
        except DisallowedHost:
            return error_response(request, status=404, code="unknown_host", message="No such organization.")

        if hostname in settings.TENANT_PUBLIC_HOSTS:
            _use_public(request)
            return self.get_response(request)

        tenant = tenant_for_host(host=hostname)
        if tenant is None:
            return error_response(request, status=404, code="unknown_host", message="No such organization.")

        tenant.domain_url = hostname
        tenant_request(request).tenant = tenant
        tenant_move_refresh(request, tenant)
        # The organization's shard is this thread's `default` connection for the request (a no-op
        # for the control database's own tenants, and with no TENANT_SHARDS): tenants/routing.py.
        with tenant_shard_context(tenant):
            _activate(tenant)
            # Django's handler already did set_urlconf(ROOT_URLCONF) for this request and does it again
            # for request.urlconf before resolving: no third call here (issue 17, tenancy_overhead).
            request.urlconf = settings.ROOT_URLCONF

            blocked = _lifecycle_gate(request, tenant.status) or tenant_move_gate(request, tenant)
            if blocked is not None:
                return blocked
            return self.get_response(request)


def _activate(tenant: object) -> None:
    """Point the connection at the tenant's schema; a no-op when it already is (keeps the SET and the
    ContentType cache from being redone for consecutive requests of one tenant on one connection)."""
    if connection.schema_name == tenant.schema_name and connection.search_path_set_schemas:  # type: ignore[attr-defined]
        connection.tenant = tenant
        return
    connection.set_tenant(tenant)


def _use_public(request: HttpRequest) -> None:
    connection.set_schema_to_public()
    tenant_request(request).tenant = None
    request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
    set_urlconf(request.urlconf)


def _lifecycle_gate(request: HttpRequest, status: str) -> HttpResponse | None:
    if status == TenantStatus.CLOSED:
        return error_response(request, status=410, code="tenant_closed", message="This organization has been closed.")
    if (
        status == TenantStatus.SUSPENDED
        and request.method not in SAFE_METHODS
        and request.path not in SUSPENDED_WRITABLE_PATHS
        and not request.path.startswith(SUSPENDED_WRITABLE_PREFIXES)
    ):
        return error_response(
            request,
            status=402,
            code="tenant_suspended",
            message="This organization is suspended and read-only. An owner can restore it from billing.",
        )
    return None
