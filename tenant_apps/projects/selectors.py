"""Project and task reads. Visibility is decided in SQL through guardian's direct-FK tables (never
through `user.has_perm`, which lets superusers through)."""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth.models import Permission
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from shared_apps.accounts.models import User
from tenant_apps.members.selectors import team_group_ids_of, user_in_teams
from tenant_apps.projects.models import Project, ProjectGroupObjectPermission, ProjectUserObjectPermission, Task
from tenant_apps.projects.policies import (
    ALL_PROJECT_CODENAMES,
    project_can_view,
    project_codenames_for,
    role_sees_all_projects,
    role_uses_projects,
)


def project_list_visible(*, user: User, role: str) -> QuerySet[Project]:
    if not role_uses_projects(role=role):
        return Project.objects.none()
    if role_sees_all_projects(role=role):
        return Project.objects.all()
    # The permission id comes from a scalar subquery (an InitPlan, evaluated once) rather than a join
    # to auth_permission in the EXISTS: with the join, PostgreSQL cannot estimate how many grant rows
    # match, hashes every grant and sorts every visible project (12 ms for a page at 10k visible);
    # with the id known at run time it probes the (user, permission, content_object) unique index
    # once per project while walking projects in list order (see migration 0002 and
    # docs/benchmarks.md, api_list).
    # Teams (D97): the same probe on the group grant table, for the groups of the caller's teams (a
    # second InitPlan, read once per statement: removing someone from a team shows on the next request).
    view_permission = Permission.objects.filter(
        content_type__app_label="projects", content_type__model="project", codename="view_project"
    ).values("pk")[:1]
    can_view = ProjectUserObjectPermission.objects.filter(
        content_object=OuterRef("pk"), user_id=user.pk, permission_id=Subquery(view_permission)
    )
    if not user_in_teams(user_id=user.pk):
        return Project.objects.filter(Exists(can_view))  # no team: the plan above, unchanged (D104)
    can_view_via_team = ProjectGroupObjectPermission.objects.filter(
        content_object=OuterRef("pk"),
        permission_id=Subquery(view_permission),
        group_id__in=team_group_ids_of(user_id=user.pk),
    )
    return Project.objects.filter(Exists(can_view) | Exists(can_view_via_team))


def project_codenames(*, user: User, role: str, project_id: int) -> frozenset[str]:
    """Effective permissions of `user` on one project: their own grants and their teams' (one query for
    plain members, none for admins)."""
    if not role_uses_projects(role=role) or role_sees_all_projects(role=role):
        return project_codenames_for(role=role, granted=set())
    own = ProjectUserObjectPermission.objects.filter(user_id=user.pk, content_object_id=project_id).values_list(
        "permission__codename", flat=True
    )
    via_teams = ProjectGroupObjectPermission.objects.filter(
        content_object_id=project_id, group_id__in=team_group_ids_of(user_id=user.pk)
    ).values_list("permission__codename", flat=True)
    granted = set(own.union(via_teams))  # one statement: the union of their own and their teams' grants
    return project_codenames_for(role=role, granted=granted)


def project_get(*, project_id: int) -> Project | None:
    return Project.objects.filter(pk=project_id).first()


def project_get_visible(*, user: User, role: str, project_id: int) -> tuple[Project, frozenset[str]] | None:
    """One project and the caller's permissions on it, or None when the caller may not see it (or it
    does not exist): the API and the portal both answer 404 for None, whichever it was."""
    codenames = project_codenames(user=user, role=role, project_id=project_id)
    if not project_can_view(codenames=codenames):
        return None
    project = project_get(project_id=project_id)
    if project is None:
        return None
    return project, codenames


def project_list_with_task_counts(*, projects: QuerySet[Project]) -> QuerySet[Project]:
    """`projects` with `open_tasks` and `task_total` (one grouped query, whatever the page size)."""
    return projects.select_related("created_by").annotate(
        task_total=Count("tasks"), open_tasks=Count("tasks", filter=~Q(tasks__status="done"))
    )


def project_sharing_for(*, project_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """project id -> {member email -> [codenames]} for the given projects, in one query."""
    sharing: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    rows = (
        ProjectUserObjectPermission.objects.filter(content_object_id__in=project_ids)
        .values_list("content_object_id", "user__email", "permission__codename")
        .order_by("user__email", "permission__codename")
    )
    for project_id, email, codename in rows:
        sharing[project_id][email].append(codename)
    return {pid: dict(people) for pid, people in sharing.items()}


def project_count() -> int:
    return Project.objects.count()


def project_permission_rows(*, project: Project) -> QuerySet[ProjectUserObjectPermission]:
    return (
        ProjectUserObjectPermission.objects.filter(content_object=project)
        .select_related("user", "permission")
        .order_by("user_id", "permission__codename")
    )


def project_permission_objects(*, codenames: frozenset[str] | set[str]) -> list[Permission]:
    """Permission rows for project codenames, resolved by a join (no ContentType cache lookup)."""
    wanted = set(codenames) & ALL_PROJECT_CODENAMES
    return list(
        Permission.objects.filter(
            content_type__app_label="projects", content_type__model="project", codename__in=wanted
        )
    )


def task_list(*, project: Project) -> QuerySet[Task]:
    return Task.objects.filter(project=project)


def task_list_with_assignees(*, project: Project) -> QuerySet[Task]:
    return task_list(project=project).select_related("assignee")


def task_get(*, project: Project, task_id: int) -> Task | None:
    return Task.objects.filter(project=project, pk=task_id).first()


def project_get_locked(*, project_id: int) -> Project | None:
    """The project row, locked until the caller's transaction ends (If-Match is compared on it)."""
    return Project.objects.select_for_update().filter(pk=project_id).first()


def task_get_locked(*, project: Project, task_id: int) -> Task | None:
    return Task.objects.select_for_update().filter(project=project, pk=task_id).first()


def project_team_grants(*, project: Project) -> list[tuple[int, str, list[str]]]:
    """(team id, team name, [codenames]) of the teams a project is shared with, in one query."""
    rows = (
        ProjectGroupObjectPermission.objects.filter(content_object=project, group__team__isnull=False)
        .values_list("group__team__id", "group__team__name", "permission__codename")
        .order_by("group__team__name", "group__team__id", "permission__codename")
    )
    grants: dict[int, tuple[int, str, list[str]]] = {}
    for team_id, name, codename in rows:
        grants.setdefault(team_id, (team_id, name, []))[2].append(codename)
    return list(grants.values())


def project_team_sharing_for(*, project_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """project id -> {team name -> [codenames]} for the given projects, in one query (the portal list)."""
    sharing: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    rows = (
        ProjectGroupObjectPermission.objects.filter(content_object_id__in=project_ids, group__team__isnull=False)
        .values_list("content_object_id", "group__team__name", "permission__codename")
        .order_by("group__team__name", "permission__codename")
    )
    for project_id, name, codename in rows:
        sharing[project_id][name].append(codename)
    return {pid: dict(teams) for pid, teams in sharing.items()}
