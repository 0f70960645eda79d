"""Writes about tenants: provisioning from the spare-schema pool, and the lifecycle."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from celery import current_app
from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.conn import connection
from tenants.models import Domain, SpareSchema, Tenant, TenantStatus
from tenants.naming import SCHEMA_RE, generate_schema_name, validate_slug
from tenants.routing import current_shard, shard_activate, shard_aliases, tenant_activate
from tenants.shard_config import DEFAULT_SHARD
from tenants.shards import schema_detach_global_references, shard_for_new_tenant
from tenants.signals import tenant_provisioned

ORGANIZATION_NAME_MAX_LENGTH = 200

logger = logging.getLogger(__name__)

# Celery task names, declared here and used by tenants/tasks.py: the service enqueues by name through
# Celery's registry, so services and their task entry points do not import each other (D87).
REFILL_SCHEMA_POOL_TASK = "tenants.refill_schema_pool"


# --- Spare-schema pool ---------------------------------------------------------------------------


def schema_create_migrated(*, schema_name: str | None = None) -> str:
    """Create a schema and run every tenant migration in it (slow: done in the background)."""
    schema_name = schema_name or generate_schema_name()
    if not SCHEMA_RE.match(schema_name):
        raise ValueError(f"refusing to create a schema with a non-generated name: {schema_name!r}")
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
    try:
        call_command("migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0)
    except Exception:
        schema_drop(schema_name=schema_name)
        raise
    finally:
        connection.set_schema_to_public()
    return schema_name


def schema_create_ready(*, schema_name: str | None = None) -> str:
    """A schema ready for a tenant: copied from an up-to-date one (tens of milliseconds), or, when
    there is none or it holds something the copy does not reproduce, migrated (about half a second)."""
    from tenants.cloning import CloneRefused, schema_clone, template_schema

    schema_name = schema_name or generate_schema_name()
    if not SCHEMA_RE.match(schema_name):
        raise ValueError(f"refusing to create a schema with a non-generated name: {schema_name!r}")
    if settings.TENANT_SCHEMA_CLONE:
        template = template_schema()
        if template is not None:
            try:
                with transaction.atomic():
                    schema_clone(template=template, schema_name=schema_name)
                return schema_name
            except (CloneRefused, DatabaseError) as exc:
                logger.warning("schema copy failed (%s); migrating %s instead", exc, schema_name)
    return schema_create_migrated(schema_name=schema_name)


def schema_drop(*, schema_name: str) -> None:
    if schema_name == settings.PUBLIC_SCHEMA_NAME or not SCHEMA_RE.match(schema_name):
        raise ValueError(f"refusing to drop schema {schema_name!r}")
    with schema_context(settings.PUBLIC_SCHEMA_NAME), connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')


def schema_pool_add_spare(*, shard: str = DEFAULT_SHARD) -> SpareSchema:
    """One more spare schema, built on `shard` (each shard keeps its own pool: tenants/shards.py)."""
    with shard_activate(shard):
        schema_name = schema_create_ready()
        if shard != DEFAULT_SHARD:
            schema_detach_global_references(schema_name=schema_name)
    return SpareSchema.objects.create(schema_name=schema_name, shard=shard)


def schema_pool_refill(*, size: int | None = None, shard: str | None = None) -> int:
    """Top each shard's pool (or only `shard`'s) up to `size` spare schemas; returns how many were created."""
    target = settings.TENANT_POOL_SIZE if size is None else size
    created = 0
    for alias in [shard] if shard else shard_aliases():
        while SpareSchema.objects.filter(shard=alias).count() < target:
            schema_pool_add_spare(shard=alias)
            created += 1
    return created


def _claim_spare_schema(shard: str = DEFAULT_SHARD) -> str | None:
    spare = SpareSchema.objects.select_for_update(skip_locked=True).filter(shard=shard).order_by("created_at").first()
    if spare is None:
        return None
    spare.delete()
    return spare.schema_name


# --- Provisioning --------------------------------------------------------------------------------


def tenant_provision(
    *, slug: str, name: str, on_created: Callable[[Tenant], None] | None = None, shard: str | None = None
) -> Tenant:
    """Create an organization. Takes a ready schema from the pool (milliseconds); only when the pool is
    empty does it build one first (about a second), then asks for a refill. `on_created(tenant)` runs
    in the same transaction (accounts adds the owner there: shared_apps.accounts.services.organization_provision).
    The organization goes to `shard`, or to the shard with the most room (tenants/shards.py)."""
    validate_slug(slug)
    name = (name or "").strip()
    if not name or len(name) > ORGANIZATION_NAME_MAX_LENGTH:
        raise ValidationError("An organization name of 1 to 200 characters is required.", code="name_invalid")
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError("This slug is already taken.", code="slug_taken")

    shard = shard or shard_for_new_tenant()
    for _attempt in range(3):
        with transaction.atomic():
            schema_name = _claim_spare_schema(shard)
            if schema_name is not None:
                tenant = _tenant_create(schema_name=schema_name, slug=slug, name=name, shard=shard)
                if on_created is not None:
                    on_created(tenant)
                if settings.TENANT_POOL_AUTO_REFILL:
                    transaction.on_commit(_request_pool_refill)
                transaction.on_commit(partial(_announce_provisioned, tenant.pk))
                return tenant
        logger.warning("spare schema pool empty; building a schema on the request path")
        schema_pool_add_spare(shard=shard)
    raise RuntimeError("could not claim a spare schema")


def _announce_provisioned(tenant_id: int) -> None:
    tenant_provisioned.send(sender=Tenant, tenant_id=tenant_id)


def _tenant_create(*, schema_name: str, slug: str, name: str, shard: str = DEFAULT_SHARD) -> Tenant:
    if Tenant.objects.select_for_update().filter(slug=slug).exists():
        raise ValidationError("This slug is already taken.", code="slug_taken")
    tenant = Tenant.objects.create(
        schema_name=schema_name,
        slug=slug,
        name=name,
        status=TenantStatus.TRIALING,
        status_changed_at=timezone.now(),
        shard=shard,
    )
    Domain.objects.create(domain=f"{slug}.{settings.TENANT_BASE_DOMAIN}", tenant=tenant, is_primary=True)
    return tenant


def _request_pool_refill() -> None:
    try:
        current_app.tasks[REFILL_SCHEMA_POOL_TASK].delay()
    except Exception:  # broker down: the beat schedule refills the pool later
        logger.warning("could not enqueue pool refill; the periodic refill will catch up", exc_info=True)


# --- Lifecycle -----------------------------------------------------------------------------------

_TRANSITIONS: dict[str, set[str]] = {
    TenantStatus.TRIALING: {
        TenantStatus.ACTIVE,
        TenantStatus.PAST_DUE,
        TenantStatus.SUSPENDED,
        TenantStatus.CLOSED,
    },
    TenantStatus.ACTIVE: {TenantStatus.PAST_DUE, TenantStatus.SUSPENDED, TenantStatus.CLOSED},
    TenantStatus.PAST_DUE: {TenantStatus.ACTIVE, TenantStatus.SUSPENDED, TenantStatus.CLOSED},
    TenantStatus.SUSPENDED: {TenantStatus.ACTIVE, TenantStatus.PAST_DUE, TenantStatus.CLOSED},
    TenantStatus.CLOSED: {TenantStatus.ACTIVE},
}


@transaction.atomic
def tenant_set_status(*, tenant: Tenant, status: str) -> Tenant:
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if tenant.status == status:
        return tenant
    if status not in _TRANSITIONS.get(tenant.status, set()):
        raise ValidationError(
            f"A {tenant.status} organization cannot become {status}.", code="invalid_status_transition"
        )
    tenant.status = status
    tenant.status_changed_at = timezone.now()
    tenant.closed_at = tenant.status_changed_at if status == TenantStatus.CLOSED else None
    tenant.save(update_fields=["status", "status_changed_at", "closed_at", "updated_at"])
    return tenant


@transaction.atomic
def tenant_rename(*, tenant: Tenant, name: str) -> Tenant:
    name = (name or "").strip()
    if not name or len(name) > ORGANIZATION_NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": ValidationError("An organization name of 1 to 200 characters is required.", code="name_invalid")}
        )
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    tenant.name = name
    tenant.save(update_fields=["name", "updated_at"])
    return tenant


def tenant_suspend(*, tenant: Tenant) -> Tenant:
    return tenant_set_status(tenant=tenant, status=TenantStatus.SUSPENDED)


def tenant_reactivate(*, tenant: Tenant) -> Tenant:
    return tenant_set_status(tenant=tenant, status=TenantStatus.ACTIVE)


def tenant_close(*, tenant: Tenant) -> Tenant:
    """Soft close: the organization stops answering, its data is kept until purge."""
    return tenant_set_status(tenant=tenant, status=TenantStatus.CLOSED)


def tenant_purge(*, tenant: Tenant, now: dt.datetime | None = None) -> None:
    """Drop a closed tenant's schema and rows once its retention period has passed."""
    now = now or timezone.now()
    if tenant.status != TenantStatus.CLOSED or tenant.closed_at is None:
        raise ValidationError("Only a closed organization can be purged.", code="not_closed")
    if now - tenant.closed_at < dt.timedelta(days=settings.TENANT_RETENTION_DAYS):
        raise ValidationError("The retention period has not passed yet.", code="retention_not_passed")
    with transaction.atomic():
        Domain.objects.filter(tenant=tenant).delete()  # memberships (and the other rows keyed by tenant) cascade
        schema_name = tenant.schema_name
        Tenant.objects.filter(pk=tenant.pk).delete()
        with shard_activate(tenant.shard):
            schema_drop(schema_name=schema_name)


def tenant_purge_expired(
    *,
    now: dt.datetime | None = None,
    on_planned: Callable[[int], None] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[str]:
    """`on_planned(total)` then `on_step(slug)` after each purge (progress)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.TENANT_RETENTION_DAYS)
    purged = []
    expired = list(Tenant.objects.filter(status=TenantStatus.CLOSED, closed_at__lte=cutoff).order_by("closed_at"))
    if on_planned is not None:
        on_planned(len(expired))
    for tenant in expired:
        tenant_purge(tenant=tenant, now=now)
        purged.append(tenant.slug)
        if on_step is not None:
            on_step(tenant.slug)
    return purged


# --- Export --------------------------------------------------------------------------------------

_EXPORT_SKIP = {"contenttypes", "auth"}


def tenant_export(
    *,
    tenant: Tenant,
    on_planned: Callable[[int], None] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The organization's data as a JSON-ready dict: organization, members, and every tenant table.
    `on_planned(total tables)` then `on_step(table label)` after each table (progress)."""
    members = [
        {"email": m.user.email, "role": m.role, "joined": m.created_at.isoformat()}
        for m in tenant.memberships.select_related("user")
    ]
    data: dict[str, list[dict[str, Any]]] = {}
    models = [m for label in _tenant_app_labels() for m in apps.get_app_config(label).get_models()]
    if on_planned is not None:
        on_planned(len(models))
    with tenant_activate(tenant):
        for model in models:
            rows = serializers.serialize("python", model._default_manager.order_by("pk"))
            data[model._meta.label] = [{"pk": r["pk"], **r["fields"]} for r in rows]
            if on_step is not None:
                on_step(model._meta.label)
    return {
        "organization": {
            "slug": tenant.slug,
            "name": tenant.name,
            "status": tenant.status,
            "created_at": tenant.created_at.isoformat(),
        },
        "members": members,
        "data": data,
    }


def _tenant_app_labels() -> list[str]:
    labels = []
    for app_name in settings.TENANT_APPS:
        config = next(c for c in apps.get_app_configs() if c.name == app_name)
        if config.label not in _EXPORT_SKIP:
            labels.append(config.label)
    return labels


def tenant_ping() -> dict[str, Any]:
    """What a worker sees of the active tenant: its schema, the shard it ran on and its project count
    (read only)."""
    from tenants.celery import require_tenant_schema

    schema = require_tenant_schema()
    project_model: Any = apps.get_model("projects", "Project")
    return {"schema": schema, "shard": current_shard(), "projects": project_model.objects.count()}
