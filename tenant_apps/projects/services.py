"""Project and task writes. Each write is one transaction that also records its audit event."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from billing.policies import tenant_ensure_writable
from billing.selectors import entitlements_for_tenant
from shared_apps.accounts.models import User
from shared_apps.accounts.selectors import membership_for_user_id
from tenant_apps.audit.services import audit_event_record
from tenant_apps.members.models import Team
from tenant_apps.outgoing.services import outbox_record
from tenant_apps.projects.models import (
    Project,
    ProjectGroupObjectPermission,
    ProjectUserObjectPermission,
    Task,
    TaskStatus,
)
from tenant_apps.projects.policies import (
    ALL_PROJECT_CODENAMES,
    project_grantee_allowed,
    project_limit_reached,
)
from tenant_apps.projects.selectors import project_permission_objects
from tenants.base.actor import Actor
from tenants.models import Tenant

_UNSET = object()


def _lock_tenant_counter(name: str) -> None:
    """Serialize limit checks of one kind within this tenant (transaction-scoped advisory lock)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{getattr(connection, 'schema_name', 'public')}:{name}"]
        )


@transaction.atomic
def project_create(*, actor: Actor, tenant: Tenant, name: str, description: str = "") -> Project:
    """Create a project; its creator gets every object permission on it."""
    tenant_ensure_writable(tenant=tenant)
    limit = entitlements_for_tenant(tenant=tenant).projects
    if limit is not None:
        _lock_tenant_counter("projects")
        if project_limit_reached(limit=limit, current=Project.objects.count()):
            raise ValidationError(
                f"Your plan allows {limit} projects. Upgrade to create more.", code="plan_limit_projects"
            )
    user = actor.user
    project = Project.objects.create(name=name, description=description, created_by=user)
    if user is not None:
        for perm in project_permission_objects(codenames=ALL_PROJECT_CODENAMES):
            assign_perm(perm, [user], project)  # guardian's bulk form: one INSERT per permission (D98)
    audit_event_record(
        actor=actor, action="project.created", target_type="project", target_id=project.pk, data={"name": name}
    )
    outbox_record(event_type="project.created", obj=project)
    return project


@transaction.atomic
def project_update(
    *,
    actor: Actor,
    project: Project,
    name: str | None = None,
    description: str | None = None,
    archived: bool | None = None,
) -> Project:
    """Rename, describe, archive (`archived=True`) or restore (`archived=False`) a project."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    changed: list[str] = []
    if name is not None and name != project.name:
        project.name = name
        changed.append("name")
    if description is not None and description != project.description:
        project.description = description
        changed.append("description")
    if archived is not None and archived != project.archived:
        project.archived_at = timezone.now() if archived else None
        changed.append("archived_at")
    if changed:
        project.save(update_fields=[*changed, "updated_at"])
    audit_event_record(
        actor=actor,
        action="project.updated",
        target_type="project",
        target_id=project.pk,
        data={"fields": changed},
    )
    outbox_record(event_type="project.updated", obj=project)
    return project


@transaction.atomic
def project_delete(*, actor: Actor, project: Project) -> None:
    project_id, name = project.pk, project.name
    Project.objects.filter(pk=project_id).delete()
    audit_event_record(
        actor=actor, action="project.deleted", target_type="project", target_id=project_id, data={"name": name}
    )
    outbox_record(event_type="project.deleted", obj=project)


def _grantee(*, tenant: Tenant, user_id: int) -> User:
    membership = membership_for_user_id(tenant_id=tenant.pk, user_id=user_id)
    if membership is None:
        raise ValidationError({"user_id": ValidationError("No member with this id.", code="not_a_member")})
    if not project_grantee_allowed(role=membership.role):
        raise ValidationError(
            {"user_id": ValidationError("Billing members cannot be given projects.", code="invalid_grantee")}
        )
    return membership.user


@transaction.atomic
def project_permission_grant(
    *, actor: Actor, tenant: Tenant, project: Project, user_id: int, codenames: set[str]
) -> set[str]:
    """Give a member object permissions on a project; returns the codenames newly granted."""
    user = _grantee(tenant=tenant, user_id=user_id)
    existing = set(
        ProjectUserObjectPermission.objects.filter(user=user, content_object=project).values_list(
            "permission__codename", flat=True
        )
    )
    new = [p for p in project_permission_objects(codenames=codenames) if p.codename not in existing]
    for perm in new:
        assign_perm(perm, [user], project)  # guardian's bulk form (ignores a concurrent duplicate)
    granted = {p.codename for p in new}
    audit_event_record(
        actor=actor,
        action="project.permissions_granted",
        target_type="project",
        target_id=project.pk,
        data={"user_id": user.pk, "permissions": sorted(granted)},
    )
    return granted


@transaction.atomic
def project_permission_revoke(*, actor: Actor, project: Project, user_id: int, codenames: set[str]) -> int:
    deleted = 0
    for perm in project_permission_objects(codenames=codenames):
        removed = remove_perm(perm, User(pk=user_id), project)
        deleted += removed[0] if removed else 0
    audit_event_record(
        actor=actor,
        action="project.permissions_revoked",
        target_type="project",
        target_id=project.pk,
        data={"user_id": user_id, "permissions": sorted(codenames), "removed": deleted},
    )
    return deleted


def _team(*, team_id: int) -> Team:
    team = Team.objects.select_related("group").filter(pk=team_id).first()
    if team is None:
        raise ValidationError({"team_id": ValidationError("No team with this id.", code="not_a_team")})
    return team


@transaction.atomic
def project_team_permission_grant(*, actor: Actor, project: Project, team_id: int, codenames: set[str]) -> set[str]:
    """Share a project with a team: guardian group object permissions on the team's group. Every member
    of the team holds them, in addition to their own; returns the codenames newly granted."""
    team = _team(team_id=team_id)
    existing = set(
        ProjectGroupObjectPermission.objects.filter(group_id=team.group_id, content_object=project).values_list(
            "permission__codename", flat=True
        )
    )
    new = [p for p in project_permission_objects(codenames=codenames) if p.codename not in existing]
    for perm in new:
        assign_perm(perm, [team.group], project)
    granted = {p.codename for p in new}
    audit_event_record(
        actor=actor,
        action="project.team_permissions_granted",
        target_type="project",
        target_id=project.pk,
        data={"team_id": team.pk, "team": team.name, "permissions": sorted(granted)},
    )
    return granted


@transaction.atomic
def project_team_permission_revoke(*, actor: Actor, project: Project, team_id: int, codenames: set[str]) -> int:
    team = _team(team_id=team_id)
    deleted = 0
    for perm in project_permission_objects(codenames=codenames):
        removed = remove_perm(perm, team.group, project)
        deleted += removed[0] if removed else 0
    audit_event_record(
        actor=actor,
        action="project.team_permissions_revoked",
        target_type="project",
        target_id=project.pk,
        data={"team_id": team.pk, "team": team.name, "permissions": sorted(codenames), "removed": deleted},
    )
    return deleted


def _ensure_tasks_writable(project: Project) -> None:
    if project.archived:
        raise ValidationError("This project is archived: restore it to change its tasks.", code="project_archived")


def _check_assignee(*, tenant: Tenant, assignee_id: int | None) -> None:
    if assignee_id is not None and membership_for_user_id(tenant_id=tenant.pk, user_id=assignee_id) is None:
        raise ValidationError(
            {
                "assignee_id": ValidationError(
                    "The assignee must be a member of this organization.", code="invalid_assignee"
                )
            }
        )


@transaction.atomic
def task_create(
    *,
    actor: Actor,
    tenant: Tenant,
    project: Project,
    title: str,
    description: str = "",
    status: str | None = None,
    assignee_id: int | None = None,
    due_date: dt.date | None = None,
) -> Task:
    _ensure_tasks_writable(project)
    _check_assignee(tenant=tenant, assignee_id=assignee_id)
    task = Task(project=project, title=title, description=description, assignee_id=assignee_id, due_date=due_date)
    if status is not None:
        task.status = status
    task.full_clean(exclude=["project", "assignee"])
    task.save()
    audit_event_record(
        actor=actor,
        action="task.created",
        target_type="task",
        target_id=task.pk,
        data={"project_id": project.pk, "title": title},
    )
    outbox_record(event_type="task.created", obj=task)
    return task


@transaction.atomic
def task_update(*, actor: Actor, tenant: Tenant, task: Task, **changes: object) -> Task:
    """Apply the given fields (title, description, status, assignee_id, due_date)."""
    allowed = {"title", "description", "status", "assignee_id", "due_date"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"unknown task fields: {sorted(unknown)}")
    _ensure_tasks_writable(task.project)
    if "assignee_id" in changes:
        _check_assignee(tenant=tenant, assignee_id=changes["assignee_id"])  # type: ignore[arg-type]
    task = Task.objects.select_for_update().get(pk=task.pk)
    was_done = task.status == TaskStatus.DONE
    for field, value in changes.items():
        setattr(task, field, value)
    task.full_clean(exclude=["project", "assignee"])
    task.save()
    audit_event_record(
        actor=actor,
        action="task.updated",
        target_type="task",
        target_id=task.pk,
        data={"project_id": task.project_id, "fields": sorted(changes)},
    )
    outbox_record(event_type="task.updated", obj=task)
    if task.status == TaskStatus.DONE and not was_done:
        outbox_record(event_type="task.completed", obj=task)
    return task


@transaction.atomic
def task_delete(*, actor: Actor, task: Task) -> None:
    _ensure_tasks_writable(task.project)
    task_id, project_id = task.pk, task.project_id
    Task.objects.filter(pk=task_id).delete()
    audit_event_record(
        actor=actor, action="task.deleted", target_type="task", target_id=task_id, data={"project_id": project_id}
    )
    outbox_record(event_type="task.deleted", obj=task)
