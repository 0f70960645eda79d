"""Invitations (create, list, revoke, accept) as a tenant-scoped viewset. Members: tenant_apps/members."""

from __future__ import annotations

import django_filters
from django.db import transaction
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.accounts.models import Role
from shared_apps.accounts.permissions import IsTenantAdmin, OnTenantHost
from shared_apps.accounts.selectors import (
    user_exists,
)
from shared_apps.accounts.services import user_authenticate
from shared_apps.accounts.viewsets import TenantViewSet
from tenant_apps.invitations import selectors, services
from tenant_apps.invitations.api.serializers import InvitationOutput, MemberOutput
from tenant_apps.invitations.models import Invitation, InvitationStatus
from tenants.base.api.context import actor_of
from tenants.base.api.docs import error_responses


class InvitationCreateInput(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class InvitationAcceptInput(serializers.Serializer):
    token = serializers.CharField(max_length=200)
    password = serializers.CharField(
        max_length=1024,
        required=False,
        trim_whitespace=False,
        help_text="The password of your existing account for the invited email, or a new one to create it.",
    )
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class InvitationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=InvitationStatus.choices)

    class Meta:
        model = Invitation
        fields = ["status"]


class InvitationViewSet(TenantViewSet):
    queryset = Invitation.objects.none()
    scope_area = "admin"  # tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]
    serializer_class = InvitationOutput
    lookup_url_kwarg = "invitation_id"
    if_match = True  # DELETE compares If-Match on the locked row (documented in the schema)
    filter_backends = [DjangoFilterBackend]
    filterset_class = InvitationFilter

    def visible_queryset(self) -> QuerySet[Invitation]:
        return selectors.invitation_list()  # owners and admins see every invitation of the organization

    @extend_schema(operation_id="invitations_list", responses={200: InvitationOutput(many=True), **error_responses()})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(InvitationOutput(page, many=True).data)

    @extend_schema(
        operation_id="invitations_create",
        request=InvitationCreateInput,
        responses={201: InvitationOutput, **error_responses(409)},
    )
    def create(self, request: Request) -> Response:
        """The token goes only into the invitee's email, never into this response (D43)."""
        data = InvitationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, _ = services.invitation_create(
            actor=actor_of(request),
            actor_role=self.membership.role,
            tenant=self.tenant,
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            base_url=request.build_absolute_uri("/"),
        )
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="invitations_retrieve", responses={200: InvitationOutput, **error_responses()})
    def retrieve(self, request: Request, invitation_id: int) -> Response:
        return Response(InvitationOutput(self.get_object()).data)

    @extend_schema(operation_id="invitations_revoke", responses={204: None, **error_responses(409)})
    def destroy(self, request: Request, invitation_id: int) -> Response:
        with transaction.atomic():
            invitation = selectors.invitation_get_locked(invitation_id=invitation_id)
            if invitation is None:
                raise exceptions.NotFound()
            self.precondition(InvitationOutput(invitation).data)
            services.invitation_revoke(actor=actor_of(request), invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="invitations_accept",
        request=InvitationAcceptInput,
        responses={201: MemberOutput, **error_responses(409)},
        auth=[],
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="accept",
        url_name="accept",
        authentication_classes=[],
        permission_classes=[OnTenantHost],
        scope_area=None,
        if_match=False,
    )
    def accept(self, request: Request) -> Response:
        """Accept by token (from the invitation email), with a password: the existing account's own password
        (a wrong one is 401 `invalid_credentials` and counts towards its lockout, 429 `login_throttled`), or
        a new one that creates the account."""
        data = InvitationAcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = selectors.invitation_by_token(raw=data.validated_data["token"])
        if invitation is None:
            raise exceptions.NotFound("This invitation is unknown, expired or no longer valid.")
        password = data.validated_data.get("password")
        account = None
        if password and user_exists(email=invitation.email):
            account = user_authenticate(request=request._request, email=invitation.email, password=password)
        membership = services.invitation_accept(
            actor=actor_of(request),
            tenant=self.tenant,
            invitation=invitation,
            password=password,
            full_name=data.validated_data["full_name"],
            account=account,
        )
        return Response(MemberOutput(membership).data, status=status.HTTP_201_CREATED)
