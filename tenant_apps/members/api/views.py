"""Members (list, change role, remove) and teams (CRUD and who is in them), as tenant-scoped viewsets."""

from __future__ import annotations

from typing import cast

import django_filters
from django.db import transaction
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, filters, status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.accounts.models import Membership, Role
from shared_apps.accounts.permissions import IsTenantAdmin, IsTenantMember
from shared_apps.accounts.selectors import membership_for_user_id_locked
from shared_apps.accounts.viewsets import TenantViewSet
from tenant_apps.members import policies, selectors, services
from tenant_apps.members.api.serializers import (
    MemberOutput,
    MemberUpdateInput,
    TeamCreateInput,
    TeamMemberAddInput,
    TeamMemberOutput,
    TeamOutput,
    TeamUpdateInput,
)
from tenant_apps.members.models import Team
from tenants.base.api.context import actor_of
from tenants.base.api.docs import error_responses
from tenants.base.request import tenant_request


class MemberFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["role"]


class IsTenantAdminToManage(BasePermission):
    """Every member lists the organization's members; reading one, changing or removing one is for
    owners and admins (who may change whom: shared_apps/accounts/policies.py, in the services)."""

    message = IsTenantAdmin.message

    def has_permission(self, request: Request, view: object) -> bool:
        if getattr(view, "action", None) == "list":
            return True
        return tenant_request(request).membership.role in (Role.OWNER, Role.ADMIN)


class MemberViewSet(TenantViewSet):
    queryset = Membership.objects.none()
    permission_classes = [IsTenantMember, IsTenantAdminToManage]
    serializer_class = MemberOutput
    lookup_field = "user_id"
    lookup_url_kwarg = "user_id"
    if_match = True  # PATCH/DELETE compare If-Match on the locked row (documented in the schema)
    filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    filterset_class = MemberFilter
    search_fields = ["user__email", "user__full_name"]
    ordering_fields = ["created_at", "role", "user__email"]

    @property
    def scope_area(self) -> str | None:  # type: ignore[override]
        """Reading one member, changing or removing one needs a token's admin scope (D64); listing doesn't."""
        return None if getattr(self, "action", None) == "list" else "admin"

    def visible_queryset(self) -> QuerySet[Membership]:
        return selectors.member_list(tenant_id=self.tenant.pk)

    def locked(self, user_id: int) -> Membership:
        """Inside the caller's transaction: the row locked, and a stale `If-Match` refused (412)."""
        membership = membership_for_user_id_locked(tenant_id=self.tenant.pk, user_id=user_id)
        if membership is None:
            raise exceptions.NotFound()
        self.precondition(MemberOutput(membership).data)
        return membership

    @extend_schema(operation_id="members_list", responses={200: MemberOutput(many=True), **error_responses()})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(MemberOutput(page, many=True).data)

    @extend_schema(operation_id="members_retrieve", responses={200: MemberOutput, **error_responses()})
    def retrieve(self, request: Request, user_id: int) -> Response:
        return Response(MemberOutput(self.get_object()).data)

    @extend_schema(
        operation_id="members_partial_update",
        request=MemberUpdateInput,
        responses={200: MemberOutput, **error_responses(409)},
    )
    def partial_update(self, request: Request, user_id: int) -> Response:
        self.get_object()
        data = MemberUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            membership = services.member_change_role(
                actor=actor_of(request),
                actor_role=self.membership.role,
                membership=self.locked(user_id),
                role=data.validated_data["role"],
            )
        return Response(MemberOutput(membership).data)

    @extend_schema(operation_id="members_destroy", responses={204: None, **error_responses(409)})
    def destroy(self, request: Request, user_id: int) -> Response:
        self.get_object()
        with transaction.atomic():
            services.member_remove(
                actor=actor_of(request), actor_role=self.membership.role, membership=self.locked(user_id)
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Teams ----------------------------------------------------------------------------------------


class CanManageTeams(BasePermission):
    """Every member (but billing members) sees the teams; owners and admins manage them."""

    message = "Only the organization's owners and admins can manage teams."

    def has_permission(self, request: Request, view: object) -> bool:
        role = tenant_request(request).membership.role
        if not policies.team_member_allowed(role=role):
            raise exceptions.NotFound()  # billing members see billing only
        if getattr(view, "action", None) in ("list", "retrieve", "members"):
            return True
        return policies.team_manage_allowed(role=role)


class TeamViewSet(TenantViewSet):
    """Teams: a name and members. Sharing a project with a team (`/projects/{id}/team-permissions/`)
    gives each of its members those permissions, in addition to their own."""

    queryset = Team.objects.none()
    permission_classes = [IsTenantMember, CanManageTeams]
    serializer_class = TeamOutput
    lookup_url_kwarg = "team_id"
    if_match = True
    filter_backends = [filters.SearchFilter, filters.OrderingFilter]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "id"]

    @property
    def scope_area(self) -> str | None:  # type: ignore[override]
        """Reading teams needs a token's read scope; managing them, the admin scope (D64)."""
        return None if getattr(self, "action", None) in ("list", "retrieve", "members") else "admin"

    def visible_queryset(self) -> QuerySet[Team]:
        return selectors.team_list()  # every member but billing members sees the organization's teams

    def get_object(self) -> Team:
        return cast(Team, super().get_object())

    @extend_schema(operation_id="teams_list", responses={200: TeamOutput(many=True), **error_responses()})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TeamOutput(page, many=True).data)

    @extend_schema(
        operation_id="teams_create", request=TeamCreateInput, responses={201: TeamOutput, **error_responses()}
    )
    def create(self, request: Request) -> Response:
        data = TeamCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = services.team_create(actor=actor_of(request), **data.validated_data)
        return Response(TeamOutput(team).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="teams_retrieve", responses={200: TeamOutput, **error_responses()})
    def retrieve(self, request: Request, team_id: int) -> Response:
        return Response(TeamOutput(self.get_object()).data)

    def _locked(self, team_id: int) -> Team:
        team = selectors.team_get_locked(team_id=team_id)
        if team is None:
            raise exceptions.NotFound()
        current = selectors.team_get(team_id=team_id)
        self.precondition(TeamOutput(current).data)
        return team

    @extend_schema(
        operation_id="teams_partial_update", request=TeamUpdateInput, responses={200: TeamOutput, **error_responses()}
    )
    def partial_update(self, request: Request, team_id: int) -> Response:
        self.get_object()
        data = TeamUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            services.team_update(actor=actor_of(request), team=self._locked(team_id), **data.validated_data)
        return Response(TeamOutput(selectors.team_get(team_id=team_id)).data)

    @extend_schema(operation_id="teams_destroy", responses={204: None, **error_responses()})
    def destroy(self, request: Request, team_id: int) -> Response:
        self.get_object()
        with transaction.atomic():
            services.team_delete(actor=actor_of(request), team=self._locked(team_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(operation_id="teams_members_list", responses={200: TeamMemberOutput(many=True), **error_responses()})
    @action(
        detail=True,
        methods=["get"],
        url_path="members",
        url_name="members",
        serializer_class=TeamMemberOutput,
        filter_backends=[],
    )
    def members(self, request: Request, team_id: int) -> Response:
        team = self.get_object()
        page = self.paginate_queryset(selectors.team_member_list(team=team))
        return self.get_paginated_response(TeamMemberOutput(page, many=True).data)

    @extend_schema(
        operation_id="teams_members_add",
        request=TeamMemberAddInput,
        responses={201: TeamMemberOutput, **error_responses()},
    )
    @members.mapping.post
    def add_member(self, request: Request, team_id: int) -> Response:
        team = self.get_object()
        data = TeamMemberAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        place = services.team_member_add(
            actor=actor_of(request), tenant=self.tenant, team=team, user_id=data.validated_data["user_id"]
        )
        return Response(TeamMemberOutput(place).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="teams_members_remove", responses={204: None, **error_responses()})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"members/<id:user_id>",
        url_name="member-detail",
        if_match=False,
    )
    def remove_member(self, request: Request, team_id: int, user_id: int) -> Response:
        team = self.get_object()
        if not services.team_member_remove(actor=actor_of(request), team=team, user_id=user_id):
            raise exceptions.NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)
