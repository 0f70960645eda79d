"""Projects, their tasks and their sharing. Thin: parse input, ask policies, call services, render."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, filters, status
from rest_framework.request import Request
from rest_framework.response import Response

from tenant_apps.projects import policies, selectors, services
from tenant_apps.projects.api import serializers as s
from tenant_apps.projects.api.filters import ProjectFilter, TaskFilter
from tenant_apps.projects.models import Project, Task
from tenant_apps.projects.policies import PROJECT_PERMISSIONS
from tenants.base.api.context import actor_of, tenant_of, user_of
from tenants.base.api.docs import error_responses
from tenants.base.api.views import ApiGenericView

CODENAME_TO_NAME = {v: k for k, v in PROJECT_PERMISSIONS.items()}


class _ProjectScoped(ApiGenericView):
    """Loads one project the caller can see (404 otherwise) and the caller's permissions on it."""

    def load_project(self, project_id: int) -> tuple[Project, frozenset[str]]:
        found = selectors.project_get_visible(
            user=user_of(self.request), role=self.membership.role, project_id=project_id
        )
        if found is None:
            raise exceptions.NotFound()
        return found

    @staticmethod
    def require(allowed: bool, message: str) -> None:
        if not allowed:
            raise exceptions.PermissionDenied(message)


class ProjectListCreateApi(ApiGenericView):
    serializer_class = s.ProjectOutput
    filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    filterset_class = ProjectFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at", "id"]

    def get_queryset(self) -> QuerySet[Project]:
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return selectors.project_list_visible(user=user_of(self.request), role=self.membership.role)

    @extend_schema(operation_id="projects_list", responses={200: s.ProjectOutput(many=True), **error_responses()})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.ProjectOutput(page, many=True).data)

    @extend_schema(
        operation_id="projects_create",
        request=s.ProjectCreateInput,
        responses={201: s.ProjectOutput, **error_responses(402)},
    )
    def post(self, request: Request) -> Response:
        if not policies.project_create_allowed(role=self.membership.role):
            raise exceptions.PermissionDenied("Your role cannot create projects.")
        data = s.ProjectCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(actor=actor_of(request), tenant=tenant_of(request), **data.validated_data)
        return Response(s.ProjectOutput(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(_ProjectScoped):
    serializer_class = s.ProjectOutput
    if_match = True  # PATCH/DELETE compare If-Match on the locked row (documented in the schema)

    @extend_schema(operation_id="projects_retrieve", responses={200: s.ProjectOutput, **error_responses()})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = self.load_project(project_id)
        return Response(s.ProjectOutput(project).data)

    @extend_schema(
        operation_id="projects_partial_update",
        request=s.ProjectUpdateInput,
        responses={200: s.ProjectOutput, **error_responses()},
    )
    def patch(self, request: Request, project_id: int) -> Response:
        project, codenames = self.load_project(project_id)
        self.require(policies.project_can_change(codenames=codenames), "You cannot change this project.")
        data = s.ProjectUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            locked = selectors.project_get_locked(project_id=project.pk)
            if locked is None:  # deleted meanwhile
                raise exceptions.NotFound()
            self.precondition(s.ProjectOutput(locked).data)
            project = services.project_update(actor=actor_of(request), project=locked, **data.validated_data)
        return Response(s.ProjectOutput(project).data)

    @extend_schema(operation_id="projects_destroy", responses={204: None, **error_responses()})
    def delete(self, request: Request, project_id: int) -> Response:
        project, codenames = self.load_project(project_id)
        self.require(policies.project_can_delete(codenames=codenames), "You cannot delete this project.")
        with transaction.atomic():
            locked = selectors.project_get_locked(project_id=project.pk)
            if locked is None:  # deleted meanwhile
                raise exceptions.NotFound()
            self.precondition(s.ProjectOutput(locked).data)
            services.project_delete(actor=actor_of(request), project=locked)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskListCreateApi(_ProjectScoped):
    serializer_class = s.TaskOutput
    filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    filterset_class = TaskFilter
    search_fields = ["title", "description"]
    ordering_fields = ["title", "status", "due_date", "created_at", "updated_at", "id"]

    def get_queryset(self) -> QuerySet[Task]:
        return Task.objects.none()  # lists are built from the loaded project

    @extend_schema(operation_id="tasks_list", responses={200: s.TaskOutput(many=True), **error_responses()})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = self.load_project(project_id)
        page = self.paginate_queryset(self.filter_queryset(selectors.task_list(project=project)))
        return self.get_paginated_response(s.TaskOutput(page, many=True).data)

    @extend_schema(
        operation_id="tasks_create", request=s.TaskCreateInput, responses={201: s.TaskOutput, **error_responses()}
    )
    def post(self, request: Request, project_id: int) -> Response:
        project, codenames = self.load_project(project_id)
        self.require(policies.task_can_write(codenames=codenames), "You cannot add tasks to this project.")
        data = s.TaskCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_create(
            actor=actor_of(request),
            tenant=tenant_of(request),
            project=project,
            **data.validated_data,
        )
        return Response(s.TaskOutput(task).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(_ProjectScoped):
    serializer_class = s.TaskOutput
    if_match = True

    def load_task(self, project_id: int, task_id: int) -> tuple[Task, frozenset[str]]:
        project, codenames = self.load_project(project_id)
        task = selectors.task_get(project=project, task_id=task_id)
        if task is None:
            raise exceptions.NotFound()
        return task, codenames

    @extend_schema(operation_id="tasks_retrieve", responses={200: s.TaskOutput, **error_responses()})
    def get(self, request: Request, project_id: int, task_id: int) -> Response:
        task, _ = self.load_task(project_id, task_id)
        return Response(s.TaskOutput(task).data)

    @extend_schema(
        operation_id="tasks_partial_update",
        request=s.TaskUpdateInput,
        responses={200: s.TaskOutput, **error_responses()},
    )
    def patch(self, request: Request, project_id: int, task_id: int) -> Response:
        task, codenames = self.load_task(project_id, task_id)
        self.require(policies.task_can_write(codenames=codenames), "You cannot change this project's tasks.")
        data = s.TaskUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            locked = selectors.task_get_locked(project=task.project, task_id=task.pk)
            if locked is None:
                raise exceptions.NotFound()
            self.precondition(s.TaskOutput(locked).data)
            task = services.task_update(
                actor=actor_of(request),
                tenant=tenant_of(request),
                task=locked,
                **data.validated_data,
            )
        return Response(s.TaskOutput(task).data)

    @extend_schema(operation_id="tasks_destroy", responses={204: None, **error_responses()})
    def delete(self, request: Request, project_id: int, task_id: int) -> Response:
        task, codenames = self.load_task(project_id, task_id)
        self.require(policies.task_can_write(codenames=codenames), "You cannot change this project's tasks.")
        with transaction.atomic():
            locked = selectors.task_get_locked(project=task.project, task_id=task.pk)
            if locked is None:
                raise exceptions.NotFound()
            self.precondition(s.TaskOutput(locked).data)
            services.task_delete(actor=actor_of(request), task=locked)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _grants(project: Project) -> list[dict[str, Any]]:
    by_user: dict[int, dict[str, Any]] = {}
    for row in selectors.project_permission_rows(project=project):
        entry = by_user.setdefault(row.user_id, {"user_id": row.user_id, "email": row.user.email, "permissions": []})
        entry["permissions"].append(CODENAME_TO_NAME.get(row.permission.codename, row.permission.codename))
    return list(by_user.values())


class ProjectPermissionsApi(_ProjectScoped):
    """Who holds which object permissions on a project. Managing them needs `manage` (or admin)."""

    scope_area = "admin"  # tokens need the admin scope (D64)

    serializer_class = s.ProjectGrantOutput
    pagination_class = None  # a plain list (the schema said "paginated", which the client then failed to parse)

    def load_managed(self, project_id: int) -> Project:
        project, codenames = self.load_project(project_id)
        self.require(policies.project_can_share(codenames=codenames), "You cannot manage this project's sharing.")
        return project

    @extend_schema(
        operation_id="project_permissions_list",
        responses={200: s.ProjectGrantOutput(many=True), **error_responses()},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = self.load_managed(project_id)
        return Response(s.ProjectGrantOutput(_grants(project), many=True).data)

    @extend_schema(
        operation_id="project_permissions_grant",
        request=s.PermissionGrantInput,
        responses={200: s.ProjectGrantOutput(many=True), **error_responses()},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.load_managed(project_id)
        data = s.PermissionGrantInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.project_permission_grant(
            actor=actor_of(request),
            tenant=tenant_of(request),
            project=project,
            user_id=data.validated_data["user_id"],
            codenames={PROJECT_PERMISSIONS[p] for p in data.validated_data["permissions"]},
        )
        return Response(s.ProjectGrantOutput(_grants(project), many=True).data)

    @extend_schema(
        operation_id="project_permissions_revoke",
        parameters=[
            OpenApiParameter("user_id", OpenApiTypes.INT, required=True, description="Member to revoke from."),
            OpenApiParameter(
                "permissions",
                OpenApiTypes.STR,
                many=True,
                explode=True,
                enum=s.PERMISSION_CHOICES,
                description="Permissions to revoke (repeat the parameter); all when omitted.",
            ),
        ],
        responses={200: s.PermissionRevokeOutput, **error_responses()},
    )
    def delete(self, request: Request, project_id: int) -> Response:
        project = self.load_managed(project_id)
        query = {"user_id": request.query_params.get("user_id")}
        if "permissions" in request.query_params:
            query["permissions"] = request.query_params.getlist("permissions")  # type: ignore[assignment]
        data = s.PermissionRevokeQuery(data=query)
        data.is_valid(raise_exception=True)
        names = data.validated_data.get("permissions") or list(PROJECT_PERMISSIONS)
        removed = services.project_permission_revoke(
            actor=actor_of(request),
            project=project,
            user_id=data.validated_data["user_id"],
            codenames={PROJECT_PERMISSIONS[p] for p in names},
        )
        return Response({"removed": removed})
