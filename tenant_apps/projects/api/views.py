"""Projects, their tasks (nested under their project) and their sharing, as tenant-scoped viewsets.
Thin: parse input, let the permission classes decide, call services, render."""

from __future__ import annotations

import builtins
from typing import Any, cast

from django.db import transaction
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, filters, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from shared_apps.accounts.permissions import IsTenantMember
from shared_apps.accounts.viewsets import TenantViewSet
from tenant_apps.projects import policies, selectors, services
from tenant_apps.projects.api import serializers as s
from tenant_apps.projects.api.filters import ProjectFilter, TaskFilter
from tenant_apps.projects.api.permissions import HasProjectPermission, HasProjectTaskPermission
from tenant_apps.projects.models import Project, Task
from tenant_apps.projects.policies import PROJECT_PERMISSIONS
from tenants.base.api.context import actor_of, user_of
from tenants.base.api.docs import error_responses

CODENAME_TO_NAME = {v: k for k, v in PROJECT_PERMISSIONS.items()}

# The operations' descriptions as the API has always published them (the schema must not change, #18).
_LOADS = "Loads one project the caller can see (404 otherwise) and the caller's permissions on it."
_SHARING = "Who holds which object permissions on a project. Managing them needs `manage` (or admin)."
_TEAM_SHARING = (
    "Which teams hold which object permissions on a project (guardian group permissions); each member of "
    "a team holds them too, in addition to their own. Managing them needs `manage` (or admin)."
)


def _revoke_parameters(key: str, description: str) -> builtins.list[OpenApiParameter]:
    """The query parameters of a revocation (from a person or from a team)."""
    return [
        OpenApiParameter(key, OpenApiTypes.INT, required=True, description=description),
        OpenApiParameter(
            "permissions",
            OpenApiTypes.STR,
            many=True,
            explode=True,
            enum=s.PERMISSION_CHOICES,
            description="Permissions to revoke (repeat the parameter); all when omitted.",
        ),
    ]


def _revoke_query(request: Request, key: str, serializer: type[Serializer]) -> tuple[int, set[str]]:
    """The id in `key` and the codenames to revoke (all when `permissions` is omitted), validated."""
    query: dict[str, Any] = {key: request.query_params.get(key)}
    if "permissions" in request.query_params:
        query["permissions"] = request.query_params.getlist("permissions")
    data = serializer(data=query)
    data.is_valid(raise_exception=True)
    names = data.validated_data.get("permissions") or list(PROJECT_PERMISSIONS)
    return data.validated_data[key], {PROJECT_PERMISSIONS[p] for p in names}


class ProjectScopedViewSet(TenantViewSet):
    # Loads the project the URL names, if the caller can see it (404 otherwise), with the caller's
    # effective permissions on it (`self.codenames`): one query for the grants, one for the row.
    # (A comment, not a docstring: drf-spectacular would publish it as the operations' description.)

    project_url_kwarg = "project_id"
    project: Project
    codenames: frozenset[str]

    def project_load(self) -> Project:
        if not hasattr(self, "project"):
            found = selectors.project_get_visible(
                user=user_of(self.request),
                role=self.membership.role,
                project_id=self.kwargs[self.project_url_kwarg],
            )
            if found is None:
                raise exceptions.NotFound()
            self.project, self.codenames = found
        return self.project


class ProjectViewSet(ProjectScopedViewSet):
    queryset = Project.objects.none()  # the model, for the schema; requests use visible_queryset()
    permission_classes = [IsTenantMember, HasProjectPermission]
    serializer_class = s.ProjectOutput
    lookup_url_kwarg = "project_id"
    if_match = True  # PATCH/DELETE compare If-Match on the locked row (documented in the schema)
    filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    filterset_class = ProjectFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at", "id"]

    def visible_queryset(self) -> QuerySet[Project]:
        return selectors.project_list_visible(user=user_of(self.request), role=self.membership.role)

    def get_object(self) -> Project:
        project = self.project_load()
        self.check_object_permissions(self.request, project)
        return project

    @extend_schema(
        operation_id="projects_list", description="", responses={200: s.ProjectOutput(many=True), **error_responses()}
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.ProjectOutput(page, many=True).data)

    @extend_schema(
        operation_id="projects_create",
        request=s.ProjectCreateInput,
        responses={201: s.ProjectOutput, **error_responses(402)},
    )
    def create(self, request: Request) -> Response:
        self.require(policies.project_create_allowed(role=self.membership.role), "Your role cannot create projects.")
        data = s.ProjectCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(actor=actor_of(request), tenant=self.tenant, **data.validated_data)
        return Response(s.ProjectOutput(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="projects_retrieve", description=_LOADS, responses={200: s.ProjectOutput, **error_responses()}
    )
    def retrieve(self, request: Request, project_id: int) -> Response:
        return Response(s.ProjectOutput(self.get_object()).data)

    @extend_schema(
        operation_id="projects_partial_update",
        description=_LOADS,
        request=s.ProjectUpdateInput,
        responses={200: s.ProjectOutput, **error_responses()},
    )
    def partial_update(self, request: Request, project_id: int) -> Response:
        project = self.get_object()
        data = s.ProjectUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            locked = selectors.project_get_locked(project_id=project.pk)
            if locked is None:  # deleted meanwhile
                raise exceptions.NotFound()
            self.precondition(s.ProjectOutput(locked).data)
            project = services.project_update(actor=actor_of(request), project=locked, **data.validated_data)
        return Response(s.ProjectOutput(project).data)

    @extend_schema(operation_id="projects_destroy", description=_LOADS, responses={204: None, **error_responses()})
    def destroy(self, request: Request, project_id: int) -> Response:
        project = self.get_object()
        with transaction.atomic():
            locked = selectors.project_get_locked(project_id=project.pk)
            if locked is None:  # deleted meanwhile
                raise exceptions.NotFound()
            self.precondition(s.ProjectOutput(locked).data)
            services.project_delete(actor=actor_of(request), project=locked)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- Sharing with people: /projects/{id}/permissions/ ----------------------------------------

    def _grants(self, project: Project) -> builtins.list[dict[str, Any]]:
        by_user: dict[int, dict[str, Any]] = {}
        for row in selectors.project_permission_rows(project=project):
            entry = by_user.setdefault(
                row.user_id, {"user_id": row.user_id, "email": row.user.email, "permissions": []}
            )
            entry["permissions"].append(CODENAME_TO_NAME.get(row.permission.codename, row.permission.codename))
        return list(by_user.values())

    @extend_schema(
        operation_id="project_permissions_list",
        description=_SHARING,
        responses={200: s.ProjectGrantOutput(many=True), **error_responses()},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="permissions",
        url_name="permissions",
        scope_area="admin",  # tokens need the admin scope (D64)
        serializer_class=s.ProjectGrantOutput,
        pagination_class=None,  # a plain list
        filter_backends=[],
        if_match=False,
    )
    def permissions(self, request: Request, project_id: int) -> Response:
        return Response(s.ProjectGrantOutput(self._grants(self.get_object()), many=True).data)

    @extend_schema(
        operation_id="project_permissions_grant",
        description=_SHARING,
        request=s.PermissionGrantInput,
        responses={200: s.ProjectGrantOutput(many=True), **error_responses()},
    )
    @permissions.mapping.post
    def grant_permissions(self, request: Request, project_id: int) -> Response:
        project = self.get_object()
        data = s.PermissionGrantInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.project_permission_grant(
            actor=actor_of(request),
            tenant=self.tenant,
            project=project,
            user_id=data.validated_data["user_id"],
            codenames={PROJECT_PERMISSIONS[p] for p in data.validated_data["permissions"]},
        )
        return Response(s.ProjectGrantOutput(self._grants(project), many=True).data)

    @extend_schema(
        operation_id="project_permissions_revoke",
        description=_SHARING,
        parameters=_revoke_parameters("user_id", "Member to revoke from."),
        responses={200: s.PermissionRevokeOutput, **error_responses()},
    )
    @permissions.mapping.delete
    def revoke_permissions(self, request: Request, project_id: int) -> Response:
        project = self.get_object()  # not visible: 404 before the query is looked at
        who, codenames = _revoke_query(request, "user_id", s.PermissionRevokeQuery)
        removed = services.project_permission_revoke(
            actor=actor_of(request), project=project, user_id=who, codenames=codenames
        )
        return Response({"removed": removed})

    # --- Sharing with teams: /projects/{id}/team-permissions/ (issue #18) ------------------------

    def _team_grants(self, project: Project) -> builtins.list[dict[str, Any]]:
        return [
            {
                "team_id": team_id,
                "name": name,
                "permissions": [CODENAME_TO_NAME.get(c, c) for c in codenames],
            }
            for team_id, name, codenames in selectors.project_team_grants(project=project)
        ]

    @extend_schema(
        operation_id="project_team_permissions_list",
        description=_TEAM_SHARING,
        responses={200: s.ProjectTeamGrantOutput(many=True), **error_responses()},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="team-permissions",
        url_name="team-permissions",
        scope_area="admin",
        serializer_class=s.ProjectTeamGrantOutput,
        pagination_class=None,
        filter_backends=[],
        if_match=False,
    )
    def team_permissions(self, request: Request, project_id: int) -> Response:
        return Response(s.ProjectTeamGrantOutput(self._team_grants(self.get_object()), many=True).data)

    @extend_schema(
        operation_id="project_team_permissions_grant",
        description=_TEAM_SHARING,
        request=s.TeamPermissionGrantInput,
        responses={200: s.ProjectTeamGrantOutput(many=True), **error_responses()},
    )
    @team_permissions.mapping.post
    def grant_team_permissions(self, request: Request, project_id: int) -> Response:
        project = self.get_object()
        data = s.TeamPermissionGrantInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.project_team_permission_grant(
            actor=actor_of(request),
            project=project,
            team_id=data.validated_data["team_id"],
            codenames={PROJECT_PERMISSIONS[p] for p in data.validated_data["permissions"]},
        )
        return Response(s.ProjectTeamGrantOutput(self._team_grants(project), many=True).data)

    @extend_schema(
        operation_id="project_team_permissions_revoke",
        description=_TEAM_SHARING,
        parameters=_revoke_parameters("team_id", "Team to revoke from."),
        responses={200: s.PermissionRevokeOutput, **error_responses()},
    )
    @team_permissions.mapping.delete
    def revoke_team_permissions(self, request: Request, project_id: int) -> Response:
        project = self.get_object()  # not visible: 404 before the query is looked at
        who, codenames = _revoke_query(request, "team_id", s.TeamPermissionRevokeQuery)
        removed = services.project_team_permission_revoke(
            actor=actor_of(request), project=project, team_id=who, codenames=codenames
        )
        return Response({"removed": removed})


class TaskViewSet(ProjectScopedViewSet):
    """A project's tasks: visible when the project is, writable with `change` on it."""

    queryset = Task.objects.none()
    permission_classes = [IsTenantMember, HasProjectTaskPermission]
    serializer_class = s.TaskOutput
    lookup_url_kwarg = "task_id"
    if_match = True
    filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    filterset_class = TaskFilter
    search_fields = ["title", "description"]
    ordering_fields = ["title", "status", "due_date", "created_at", "updated_at", "id"]

    def visible_queryset(self) -> QuerySet[Task]:
        return selectors.task_list(project=self.project_load())

    def get_object(self) -> Task:
        return cast(Task, super().get_object())

    @extend_schema(
        operation_id="tasks_list", description=_LOADS, responses={200: s.TaskOutput(many=True), **error_responses()}
    )
    def list(self, request: Request, project_id: int) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.TaskOutput(page, many=True).data)

    @extend_schema(
        operation_id="tasks_create",
        description=_LOADS,
        request=s.TaskCreateInput,
        responses={201: s.TaskOutput, **error_responses()},
    )
    def create(self, request: Request, project_id: int) -> Response:
        project = self.project_load()
        self.check_object_permissions(request, project)
        data = s.TaskCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_create(actor=actor_of(request), tenant=self.tenant, project=project, **data.validated_data)
        return Response(s.TaskOutput(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="tasks_retrieve", description=_LOADS, responses={200: s.TaskOutput, **error_responses()}
    )
    def retrieve(self, request: Request, project_id: int, task_id: int) -> Response:
        return Response(s.TaskOutput(self.get_object()).data)

    @extend_schema(
        operation_id="tasks_partial_update",
        description=_LOADS,
        request=s.TaskUpdateInput,
        responses={200: s.TaskOutput, **error_responses()},
    )
    def partial_update(self, request: Request, project_id: int, task_id: int) -> Response:
        task = self.get_object()
        data = s.TaskUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            locked = selectors.task_get_locked(project=task.project, task_id=task.pk)
            if locked is None:
                raise exceptions.NotFound()
            self.precondition(s.TaskOutput(locked).data)
            task = services.task_update(actor=actor_of(request), tenant=self.tenant, task=locked, **data.validated_data)
        return Response(s.TaskOutput(task).data)

    @extend_schema(operation_id="tasks_destroy", description=_LOADS, responses={204: None, **error_responses()})
    def destroy(self, request: Request, project_id: int, task_id: int) -> Response:
        task = self.get_object()
        with transaction.atomic():
            locked = selectors.task_get_locked(project=task.project, task_id=task.pk)
            if locked is None:
                raise exceptions.NotFound()
            self.precondition(s.TaskOutput(locked).data)
            services.task_delete(actor=actor_of(request), task=locked)
        return Response(status=status.HTTP_204_NO_CONTENT)
