"""Tenants live in the public schema: one row per organization, its domains, and spare schemas."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class TenantStatus(models.TextChoices):
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class Tenant(TenantMixin):
    """An organization. `schema_name` is generated (never user input); `slug` is the public handle."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=40, unique=True)
    status = models.CharField(max_length=16, choices=TenantStatus.choices, default=TenantStatus.TRIALING)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The database alias holding the schema ("default": the control database; tenants/routing.py).
    shard = models.CharField(max_length=31, default="default", db_default="default")
    # Set while a move (tenants/moves.py) holds this organization's writes: writes answer 503.
    writes_paused_at = models.DateTimeField(null=True, blank=True)

    # Schemas come from the spare pool or a clone; never migrate on save().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Domain(DomainMixin):
    def __str__(self) -> str:
        return self.domain


class SpareSchema(models.Model):
    """A pre-migrated, unassigned schema waiting in the pool; provisioning takes one in milliseconds."""

    schema_name = models.CharField(max_length=63, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    shard = models.CharField(max_length=31, default="default", db_default="default")  # where the schema is

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.schema_name


class TenantMigrationRun(models.Model):
    """One `migrate_schemas` run; per-tenant results make it resumable and reportable."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    target = models.JSONField(default=dict)  # {app_label: latest migration name}

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"migration run {self.pk} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class TenantMigrationResult(models.Model):
    class Outcome(models.TextChoices):
        OK = "ok", "Migrated"
        SKIPPED = "skipped", "Already up to date"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(TenantMigrationRun, on_delete=models.CASCADE, related_name="results")
    schema_name = models.CharField(max_length=63)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error = models.TextField(blank=True, default="")
    seconds = models.FloatField(default=0.0)

    class Meta:
        unique_together = [("run", "schema_name")]

    def __str__(self) -> str:
        return f"{self.schema_name}: {self.outcome}"


class TenantMove(models.Model):
    """One online move of an organization's schema from one shard to another (tenants/moves.py).
    The row is the move's journal: each step records where it got to, so a move can be resumed or
    aborted from any step."""

    class State(models.TextChoices):
        SCHEMA = "schema", "Creating the schema on the target"
        COPYING = "copying", "Copying and following"
        PAUSED = "paused", "Writes paused, catching up"
        FLIPPED = "flipped", "Routed to the target, cleaning up"
        DONE = "done", "Done"
        ABORTED = "aborted", "Aborted"

    ACTIVE_STATES = (State.SCHEMA, State.COPYING, State.PAUSED, State.FLIPPED)

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="moves")
    schema_name = models.CharField(max_length=63)
    source = models.CharField(max_length=31)
    target = models.CharField(max_length=31)
    state = models.CharField(max_length=16, choices=State.choices, default=State.SCHEMA)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.FloatField(null=True, blank=True)
    tables = models.JSONField(default=dict, blank=True)  # table -> {"rows": n, "checksum": "..."}
    error = models.TextField(blank=True, default="")
    # The source schema is kept (read-only, writes refused by a trigger) until then, for a way back.
    source_drop_after = models.DateTimeField(null=True, blank=True)
    source_dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(state__in=["schema", "copying", "paused", "flipped"]),
                name="one_active_move_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return f"move of {self.schema_name} {self.source} -> {self.target} ({self.state})"
