"""Reads only the portal needs (page-shaped: one query per table, whatever the page size)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import QuerySet

from tenant_apps.projects.models import Project, ProjectUserObjectPermission


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


def project_page(*, search: str = "") -> QuerySet[Project]:
    projects = Project.objects.select_related("created_by").order_by("name", "id")
    if search:
        projects = projects.filter(name__icontains=search)
    return projects
