"""Projects, their tasks and their sharing, for every member: the same selectors, policies and services
as the API (tenant_apps.projects), so a member sees and changes exactly what their grants allow.

A project the member may not see (or that does not exist) is a 404; one they see but may not change
is a 403 page; nothing is written in either case.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shared_apps.accounts.selectors import membership_list
from tenant_apps.portal.access import portal_view
from tenant_apps.portal.forms import PERMISSION_CHOICES, ShareForm
from tenant_apps.portal.project_forms import ProjectForm, ProjectListForm, TaskForm, TaskStatusForm
from tenant_apps.portal.views.common import actor, apply_errors, first_message, tenant_of
from tenant_apps.portal.views.teams import team_share_context
from tenant_apps.projects import policies, selectors, services
from tenant_apps.projects.api.filters import ProjectFilter, TaskFilter
from tenant_apps.projects.models import Project, Task, TaskStatus
from tenants.base.request import tenant_request

PERMISSION_LABELS = dict(PERMISSION_CHOICES)
PROJECTS_PER_PAGE = 20
TASKS_PER_PAGE = 50


# --- Loading and deciding (selectors and policies of tenant_apps.projects) --------------------------


def _role(request: HttpRequest) -> str:
    return tenant_request(request).membership.role


def _load(request: HttpRequest, project_id: int) -> tuple[Project, frozenset[str]]:
    found = selectors.project_get_visible(user=request.user, role=_role(request), project_id=project_id)  # type: ignore[arg-type]
    if found is None:
        raise Http404()
    return found


def _load_task(request: HttpRequest, project_id: int, task_id: int) -> tuple[Task, frozenset[str]]:
    project, codenames = _load(request, project_id)
    task = selectors.task_get(project=project, task_id=task_id)
    if task is None:
        raise Http404()
    task.project = project
    return task, codenames


def _require(allowed: bool) -> None:
    """Seen but not allowed: the product's 403 page (config.errors), nothing done."""
    if not allowed:
        raise PermissionDenied()


def _can(codenames: frozenset[str]) -> dict[str, bool]:
    return {
        "change": policies.project_can_change(codenames=codenames),
        "delete": policies.project_can_delete(codenames=codenames),
        "share": policies.project_can_share(codenames=codenames),
        "write_tasks": policies.task_can_write(codenames=codenames),
    }


def _members(request: HttpRequest) -> list[tuple[int, str]]:
    return [
        (m.user_id, m.user.full_name or m.user.email)
        for m in membership_list(tenant_id=tenant_of(request).pk).order_by("user__email")
    ]


def _back(project: Project, suffix: str = "") -> HttpResponseRedirect:
    return HttpResponseRedirect(f"/projects/{project.pk}/{suffix}")


# --- The list and creating ---------------------------------------------------------------------------


def _list_page(request: HttpRequest, form: ProjectForm, status: int = 200) -> HttpResponse:
    query = ProjectListForm(request.GET)
    query.is_valid()
    q = query.cleaned_data.get("q") or ""
    show = query.cleaned_data.get("show") or "active"
    sort = query.cleaned_data.get("sort") or "-created_at"
    visible = selectors.project_list_visible(user=request.user, role=_role(request))  # type: ignore[arg-type]
    archived = {"active": "false", "archived": "true"}.get(show, "")
    # The API's own filter (tenant_apps.projects.api.filters): the same search and archive rules.
    projects = ProjectFilter({"name": q, "archived": archived}, queryset=visible).qs
    projects = selectors.project_list_with_task_counts(projects=projects).order_by(sort, "-id")
    page = Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    is_admin = policies.role_sees_all_projects(role=_role(request))
    sharing = selectors.project_sharing_for(project_ids=[p.pk for p in page.object_list]) if is_admin else {}
    rows = [
        {
            "project": p,
            "people": [
                (email, [PERMISSION_LABELS.get(c, c) for c in codenames])
                for email, codenames in sharing.get(p.pk, {}).items()
            ],
        }
        for p in page.object_list
    ]
    context = {
        "rows": rows,
        "page": page,
        "query": query,
        "q": q,
        "show": show,
        "sort": sort,
        "show_sharing": is_admin,
        "form": form,
        "can_create": policies.project_create_allowed(role=_role(request)),
    }
    return render(request, "portal/projects.html", context, status=status)


@require_http_methods(["GET", "POST"])
@portal_view()
def projects_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _list_page(request, ProjectForm())
    _require(policies.project_create_allowed(role=_role(request)))
    form = ProjectForm(request.POST)
    if form.is_valid():
        try:
            project = services.project_create(actor=actor(request), tenant=tenant_of(request), **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Project {project.name} created.")
            return _back(project)
    return _list_page(request, form, status=400)


# --- One project: its tasks, editing, archiving, deleting, sharing ------------------------------------


def _share_form(request: HttpRequest, data: object = None) -> ShareForm:
    members = [
        (m.user_id, m.user.email)
        for m in membership_list(tenant_id=tenant_of(request).pk).order_by("user__email")
        if policies.project_grantee_allowed(role=m.role)
    ]
    return ShareForm(data, members=members)


def _project_page(
    request: HttpRequest,
    project: Project,
    codenames: frozenset[str],
    *,
    task_form: TaskForm | None = None,
    share_form: ShareForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can = _can(codenames)
    members = _members(request)
    tasks = TaskFilter(request.GET, queryset=selectors.task_list_with_assignees(project=project))
    filtered = tasks.qs if tasks.is_valid() else selectors.task_list(project=project).none()
    page = Paginator(filtered, TASKS_PER_PAGE).get_page(request.GET.get("page"))
    grants: dict[int, dict[str, Any]] = {}
    if can["share"]:
        for row in selectors.project_permission_rows(project=project):
            entry = grants.setdefault(row.user_id, {"email": row.user.email, "user_id": row.user_id, "codenames": []})
            entry["codenames"].append((row.permission.codename, PERMISSION_LABELS.get(row.permission.codename)))
    context = {
        "project": project,
        "can": can,
        "tasks": page,
        "filter_status": request.GET.get("status", ""),
        "filter_assignee": request.GET.get("assignee_id", ""),
        "filter_invalid": not tasks.is_valid(),
        "status_choices": TaskStatus.choices,
        "members": members,
        "task_form": task_form or TaskForm(members=members),
        "grants": list(grants.values()),
        "form": share_form or (_share_form(request) if can["share"] else None),
        **(team_share_context(project) if can["share"] else {}),
    }
    return render(request, "portal/project_detail.html", context, status=status)


@require_GET
@portal_view()
def project_detail_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project, codenames = _load(request, project_id)
    return _project_page(request, project, codenames)


@require_http_methods(["GET", "POST"])
@portal_view()
def project_edit_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project, codenames = _load(request, project_id)
    _require(policies.project_can_change(codenames=codenames))
    if request.method == "GET":
        form = ProjectForm(initial={"name": project.name, "description": project.description})
        return render(request, "portal/project_edit.html", {"project": project, "form": form})
    form = ProjectForm(request.POST)
    if form.is_valid():
        try:
            services.project_update(actor=actor(request), project=project, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Project saved.")
            return _back(project)
    return render(request, "portal/project_edit.html", {"project": project, "form": form}, status=400)


@require_POST
@portal_view()
def project_archive_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project, codenames = _load(request, project_id)
    _require(policies.project_can_change(codenames=codenames))
    archive = request.POST.get("archived", "1") != "0"
    project = services.project_update(actor=actor(request), project=project, archived=archive)
    messages.success(request, f"Project {project.name} {'archived' if archive else 'restored'}.")
    return _back(project)


@require_POST
@portal_view()
def project_delete_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project, codenames = _load(request, project_id)
    _require(policies.project_can_delete(codenames=codenames))
    services.project_delete(actor=actor(request), project=project)
    messages.success(request, f"Project {project.name} deleted.")
    return HttpResponseRedirect("/projects/")


@require_POST
@portal_view()
def project_share_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project, codenames = _load(request, project_id)
    _require(policies.project_can_share(codenames=codenames))
    form = _share_form(request, request.POST)
    if form.is_valid():
        try:
            services.project_permission_grant(
                actor=actor(request),
                tenant=tenant_of(request),
                project=project,
                user_id=form.cleaned_data["user_id"],
                codenames=set(form.cleaned_data["permissions"]),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Permissions granted.")
            return _back(project)
    return _project_page(request, project, codenames, share_form=form, status=400)


@require_POST
@portal_view()
def project_revoke_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project, codenames = _load(request, project_id)
    _require(policies.project_can_share(codenames=codenames))
    try:
        user_id = int(request.POST.get("user_id", ""))
    except ValueError:
        messages.error(request, "Choose whose permission to revoke.")
        return _back(project)
    codename = request.POST.get("permission", "")
    revoke = {codename} if codename in policies.ALL_PROJECT_CODENAMES else set(policies.ALL_PROJECT_CODENAMES)
    try:
        removed = services.project_permission_revoke(
            actor=actor(request), project=project, user_id=user_id, codenames=revoke
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        messages.success(request, f"Revoked {removed} permission(s)." if removed else "Nothing to revoke.")
    return _back(project)


# --- Tasks ---------------------------------------------------------------------------------------------


@require_POST
@portal_view()
def task_create_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project, codenames = _load(request, project_id)
    _require(policies.task_can_write(codenames=codenames))
    form = TaskForm(request.POST, members=_members(request))
    if form.is_valid():
        try:
            task = services.task_create(
                actor=actor(request), tenant=tenant_of(request), project=project, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Task {task.title} added.")
            return _back(project)
    return _project_page(request, project, codenames, task_form=form, status=400)


def _task_page(request: HttpRequest, task: Task, codenames: frozenset[str], form: TaskForm, status: int = 200):
    context = {"project": task.project, "task": task, "form": form, "can": _can(codenames)}
    return render(request, "portal/task_detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
@portal_view()
def task_detail_view(request: HttpRequest, project_id: int, task_id: int) -> HttpResponse:
    task, codenames = _load_task(request, project_id, task_id)
    members = _members(request)
    if request.method == "GET":
        initial = {
            "title": task.title,
            "description": task.description,
            "status": task.status,
            "assignee_id": task.assignee_id,
            "due_date": task.due_date,
        }
        return _task_page(request, task, codenames, TaskForm(initial=initial, members=members))
    _require(policies.task_can_write(codenames=codenames))
    form = TaskForm(request.POST, members=members)
    if form.is_valid():
        try:
            services.task_update(actor=actor(request), tenant=tenant_of(request), task=task, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Task saved.")
            return _back(task.project)
    return _task_page(request, task, codenames, form, status=400)


@require_POST
@portal_view()
def task_status_view(request: HttpRequest, project_id: int, task_id: int) -> HttpResponse:
    """Complete (status=done) or reopen (status=todo) a task from the list."""
    task, codenames = _load_task(request, project_id, task_id)
    _require(policies.task_can_write(codenames=codenames))
    form = TaskStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid status.")
        return _back(task.project)
    try:
        task = services.task_update(
            actor=actor(request), tenant=tenant_of(request), task=task, status=form.cleaned_data["status"]
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        done = task.status == TaskStatus.DONE
        messages.success(request, f"Task {task.title} {'completed' if done else 'reopened'}.")
    return _back(task.project)


@require_POST
@portal_view()
def task_delete_view(request: HttpRequest, project_id: int, task_id: int) -> HttpResponse:
    task, codenames = _load_task(request, project_id, task_id)
    _require(policies.task_can_write(codenames=codenames))
    try:
        services.task_delete(actor=actor(request), task=task)
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        messages.success(request, f"Task {task.title} deleted.")
    return _back(task.project)
