"""Run tenant work on the shard (database alias) that holds the organization's schema.

django-tenants knows one database: its backend, `connection.set_tenant()` and `schema_context()` act
on the `default` alias only, and TenantSyncRouter refuses every other alias. Rather than teach every
service, selector and raw query about a second alias, the organization's shard *becomes* `default`
for the thread while its work runs (docs/decisions.md, D130):

* `shard_activate(alias)` swaps the thread's `connections["default"]` for the shard's connection
  (Django keeps connections per thread/async context, so nothing else sees it) and makes the real
  control connection reachable as `connections["control"]`. Tenant code (the ORM, `connection`,
  `transaction.atomic()`, `on_commit`, raw cursors, django-tenants' `set_tenant`) then runs on the
  shard unchanged.
* `ShardRouter` sends the models that only live in the control database (SHARED_APPS that are not
  also TENANT_APPS: users, memberships, tenants, domains, billing, the webhook inbox, sessions...) to
  `control` while a shard is active, so global reads and writes never land on a shard.
* While a shard is active, an `atomic()` on `default` also opens one on `control` (entered after and
  left before it), so a service that locks or writes global rows and tenant rows keeps its
  select_for_update and rolls both back together. The two commits are not one distributed
  transaction: control commits first, then the shard (failure modes: D130).

With no TENANT_SHARDS configured nothing here is active: the router answers None (Django's own
choice), no swap ever happens, and `atomic()` is Django's.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.transaction import Atomic

from tenants.shard_config import CONTROL_ALIAS, DEFAULT_SHARD

_state = threading.local()


def _stack() -> list[Any]:
    stack = getattr(_state, "shards", None)
    if stack is None:
        stack = _state.shards = []
    return stack


def current_shard() -> str:
    """The shard the thread's `default` connection points at now ("default" unless swapped)."""
    stack = _stack()
    return stack[-1][0] if stack else DEFAULT_SHARD


def shard_aliases() -> list[str]:
    """Every shard: "default" (the control database) first, then TENANT_SHARDS in their order."""
    return [DEFAULT_SHARD, *getattr(settings, "TENANT_SHARDS", {})]


def sharding_enabled() -> bool:
    return bool(getattr(settings, "TENANT_SHARDS", {}))


def control_connection() -> Any:
    """The control database's connection, whichever shard is active."""
    stack = _stack()
    return stack[0][1] if stack else connections[DEFAULT_DB_ALIAS]


@contextmanager
def shard_activate(alias: str) -> Iterator[None]:
    """Make `alias` the thread's `default` connection for the block (no-op for "default")."""
    if alias == current_shard():
        yield
        return
    if alias != DEFAULT_SHARD and alias not in getattr(settings, "TENANT_SHARDS", {}):
        raise LookupError(f"no shard {alias!r} is configured (TENANT_SHARDS)")
    stack = _stack()
    real_default = stack[0][1] if stack else connections[DEFAULT_DB_ALIAS]
    previous = connections[DEFAULT_DB_ALIAS]
    target = real_default if alias == DEFAULT_SHARD else connections[alias]
    stack.append((alias, real_default))
    connections[CONTROL_ALIAS] = real_default
    connections[DEFAULT_DB_ALIAS] = target
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = previous
        stack.pop()


@contextmanager
def tenant_activate(tenant: Any) -> Iterator[None]:
    """The tenant's shard as `default` and its schema on that connection, for the block."""
    with shard_activate(getattr(tenant, "shard", DEFAULT_SHARD) or DEFAULT_SHARD):
        connection: Any = connections[DEFAULT_DB_ALIAS]
        connection.set_tenant(tenant)
        try:
            yield
        finally:
            connection.set_schema_to_public()


def tenant_shard_context(tenant: Any) -> Any:
    """`shard_activate(tenant.shard)`; used by the request middleware around the whole request."""
    return shard_activate(getattr(tenant, "shard", DEFAULT_SHARD) or DEFAULT_SHARD)


# --- Router --------------------------------------------------------------------------------------

_CONTROL_ONLY_CACHE: dict[str, bool] = {}


def _control_only(app_label: str) -> bool:
    """True for apps whose tables exist only in the control database's public schema."""
    known = _CONTROL_ONLY_CACHE.get(app_label)
    if known is None:
        from django.apps import apps

        name = apps.get_app_config(app_label).name
        known = name in settings.SHARED_APPS and name not in settings.TENANT_APPS
        _CONTROL_ONLY_CACHE[app_label] = known
    return known


class ShardRouter:
    """Global models to the control database while a shard is active; everything else to `default`."""

    def _route(self, model: Any) -> str | None:
        if not sharding_enabled():
            return None
        if _control_only(model._meta.app_label):
            return CONTROL_ALIAS if current_shard() != DEFAULT_SHARD else DEFAULT_DB_ALIAS
        return DEFAULT_DB_ALIAS

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return self._route(model)

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return self._route(model)

    def allow_relation(self, _obj1: Any, _obj2: Any, **hints: Any) -> bool | None:
        # A tenant row on a shard points at a global row (a user) by id; that is the design (D131).
        return True if sharding_enabled() else None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        # Migrations run with the shard swapped in as `default`; its connection keeps its own alias,
        # so for the active shard decide as django-tenants' router does for `default` (public schema:
        # SHARED_APPS, a tenant schema: TENANT_APPS). Other aliases are never migrated directly.
        if db == DEFAULT_DB_ALIAS:
            return None
        if db in getattr(settings, "TENANT_SHARDS", {}) and current_shard() == db:
            from django_tenants.routers import TenantSyncRouter

            allowed = TenantSyncRouter().allow_migrate(DEFAULT_DB_ALIAS, app_label, model_name, **hints)
            return allowed is not False  # None would let the next router (TenantSyncRouter) refuse it
        return False


# --- atomic() on a shard also holds the control database -------------------------------------------

_original_enter = Atomic.__enter__
_original_exit = Atomic.__exit__


def _paired() -> list[Any]:
    stack = getattr(_state, "paired", None)
    if stack is None:
        stack = _state.paired = []
    return stack


def _atomic_enter(self: Atomic) -> None:
    _original_enter(self)
    partner = None
    if (self.using is None or self.using == DEFAULT_DB_ALIAS) and current_shard() != DEFAULT_SHARD:
        partner = Atomic(CONTROL_ALIAS, self.savepoint, False)
        try:
            partner.__enter__()
        except BaseException:
            _original_exit(self, *sys.exc_info())
            raise
    _paired().append(partner)


def _atomic_exit(self: Atomic, exc_type: Any, exc_value: Any, traceback: Any) -> None:
    stack = _paired()
    partner = stack.pop() if stack else None
    if partner is not None:
        try:
            partner.__exit__(exc_type, exc_value, traceback)
        except BaseException:
            # Control could not commit: roll the shard back too.
            _original_exit(self, *sys.exc_info())
            raise
    _original_exit(self, exc_type, exc_value, traceback)


def install() -> None:
    """Called from TenantsConfig.ready(): only a sharded install pairs atomic blocks (the Celery hooks:
    tenants/shard_tasks.py)."""
    if sharding_enabled() and Atomic.__enter__ is not _atomic_enter:
        Atomic.__enter__ = _atomic_enter  # type: ignore[method-assign]
        Atomic.__exit__ = _atomic_exit  # type: ignore[method-assign]


# --- Shards added at run time (tests, tools) -------------------------------------------------------


def shard_register(*, alias: str, url: str) -> None:
    """Add a shard alias to a running process (the settings do this from TENANT_SHARDS at start)."""
    import environ

    from tenants.shard_config import shards_parse

    shards_parse(f"{alias}={url}")  # validates the name and URL
    config = shard_database_settings(environ.Env.db_url_config(url))
    settings.DATABASES[alias] = config
    connections.settings[alias] = connections.configure_settings({**connections.settings, alias: config})[alias]
    settings.TENANT_SHARDS = {**getattr(settings, "TENANT_SHARDS", {}), alias: url}
    install()


def shard_unregister(*, alias: str) -> None:
    if alias in connections.settings:
        try:
            connections[alias].close()
        finally:
            del connections.settings[alias]
    settings.DATABASES.pop(alias, None)
    settings.TENANT_SHARDS = {k: v for k, v in getattr(settings, "TENANT_SHARDS", {}).items() if k != alias}


def shard_database_settings(config: dict[str, Any]) -> dict[str, Any]:
    """A shard's DATABASES entry: the same backend and connection policy as the control database."""
    default = settings.DATABASES[DEFAULT_DB_ALIAS] if settings.configured else {}
    return {
        **config,
        "ENGINE": "tenants.db",
        "CONN_MAX_AGE": default.get("CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        **({"DISABLE_SERVER_SIDE_CURSORS": True} if default.get("DISABLE_SERVER_SIDE_CURSORS") else {}),
    }


def schema_activate(schema_name: str) -> Any:
    """`schema_context(schema_name)` on the shard holding that schema (a tenant's or a spare one).
    Without TENANT_SHARDS it is exactly django-tenants' schema_context."""
    from django_tenants.utils import schema_context

    if not sharding_enabled() or schema_name == settings.PUBLIC_SCHEMA_NAME:
        return schema_context(schema_name)
    from tenants.models import SpareSchema, Tenant

    with shard_activate(DEFAULT_SHARD):
        shard = (
            Tenant.objects.filter(schema_name=schema_name).values_list("shard", flat=True).first()
            or SpareSchema.objects.filter(schema_name=schema_name).values_list("shard", flat=True).first()
            or DEFAULT_SHARD
        )
    return _schema_on_shard(shard, schema_name)


@contextmanager
def _schema_on_shard(shard: str, schema_name: str) -> Iterator[None]:
    from django_tenants.utils import schema_context

    with shard_activate(shard), schema_context(schema_name):
        yield


@contextmanager
def tenant_write_context(tenant: Any) -> Iterator[None]:
    """For code working in the control database that writes a row into a tenant's schema (an audit
    event, an outbox event) inside its own transaction. On the control database's own shard this is
    exactly `schema_context(tenant.schema_name)` (same transaction); on another shard the write runs
    in a transaction there, committed when the block ends (before the caller's control transaction)."""
    from django.db import transaction
    from django_tenants.utils import schema_context

    shard = getattr(tenant, "shard", DEFAULT_SHARD) or DEFAULT_SHARD
    if shard == current_shard():
        with schema_context(tenant.schema_name):
            yield
        return
    with tenant_activate(tenant), transaction.atomic():
        yield
