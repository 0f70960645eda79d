"""Members (list, change role, remove) and invitations (create, list, revoke, accept)."""

from __future__ import annotations

import django_filters
from django.db import transaction
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, filters, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.accounts.models import Membership, Role
from shared_apps.accounts.permissions import IsTenantAdmin, OnTenantHost
from shared_apps.accounts.selectors import (
    membership_for_user_id,
    membership_for_user_id_locked,
    membership_list,
    user_exists,
)
from shared_apps.accounts.services import user_authenticate
from tenant_apps.invitations import selectors, services
from tenant_apps.invitations.api.serializers import InvitationOutput, MemberOutput
from tenant_apps.invitations.models import Invitation, InvitationStatus
from tenants.base.api.context import actor_of, tenant_of
from tenants.base.api.docs import error_responses
from tenants.base.api.views import ApiGenericView, ApiView


class MemberUpdateInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["role"]


class MemberListApi(ApiGenericView):
    serializer_class = MemberOutput
    filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    filterset_class = MemberFilter
    search_fields = ["user__email", "user__full_name"]
    ordering_fields = ["created_at", "role", "user__email"]

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return membership_list(tenant_id=tenant_of(self.request).pk)

    @extend_schema(operation_id="members_list", responses={200: MemberOutput(many=True), **error_responses()})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(MemberOutput(page, many=True).data)


class MemberDetailApi(ApiView):
    scope_area = "admin"  # tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]
    if_match = True  # PATCH/DELETE compare If-Match on the locked row (documented in the schema)

    def load(self, request: Request, user_id: int) -> Membership:
        membership = membership_for_user_id(tenant_id=tenant_of(request).pk, user_id=user_id)
        if membership is None:
            raise exceptions.NotFound()
        return membership

    def load_locked(self, request: Request, user_id: int) -> Membership:
        """Inside the caller's transaction: the row locked, and a stale `If-Match` refused (412)."""
        membership = membership_for_user_id_locked(tenant_id=tenant_of(request).pk, user_id=user_id)
        if membership is None:
            raise exceptions.NotFound()
        self.precondition(MemberOutput(membership).data)
        return membership

    @extend_schema(operation_id="members_retrieve", responses={200: MemberOutput, **error_responses()})
    def get(self, request: Request, user_id: int) -> Response:
        return Response(MemberOutput(self.load(request, user_id)).data)

    @extend_schema(
        operation_id="members_partial_update",
        request=MemberUpdateInput,
        responses={200: MemberOutput, **error_responses(409)},
    )
    def patch(self, request: Request, user_id: int) -> Response:
        self.load(request, user_id)
        data = MemberUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            membership = services.member_change_role(
                actor=actor_of(request),
                actor_role=self.membership.role,
                membership=self.load_locked(request, user_id),
                role=data.validated_data["role"],
            )
        return Response(MemberOutput(membership).data)

    @extend_schema(operation_id="members_destroy", responses={204: None, **error_responses(409)})
    def delete(self, request: Request, user_id: int) -> Response:
        self.load(request, user_id)
        with transaction.atomic():
            services.member_remove(
                actor=actor_of(request), actor_role=self.membership.role, membership=self.load_locked(request, user_id)
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


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


class InvitationListCreateApi(ApiGenericView):
    scope_area = "admin"  # tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]
    serializer_class = InvitationOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = InvitationFilter

    def get_queryset(self) -> QuerySet[Invitation]:
        return selectors.invitation_list()

    @extend_schema(operation_id="invitations_list", responses={200: InvitationOutput(many=True), **error_responses()})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(InvitationOutput(page, many=True).data)

    @extend_schema(
        operation_id="invitations_create",
        request=InvitationCreateInput,
        responses={201: InvitationOutput, **error_responses(409)},
    )
    def post(self, request: Request) -> Response:
        """The token goes only into the invitee's email, never into this response (D43)."""
        data = InvitationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, _ = services.invitation_create(
            actor=actor_of(request),
            actor_role=self.membership.role,
            tenant=tenant_of(request),
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            base_url=request.build_absolute_uri("/"),
        )
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)


class InvitationRevokeApi(ApiView):
    scope_area = "admin"  # tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]
    if_match = True  # DELETE compares If-Match on the locked row (documented in the schema)

    @extend_schema(operation_id="invitations_retrieve", responses={200: InvitationOutput, **error_responses()})
    def get(self, request: Request, invitation_id: int) -> Response:
        invitation = selectors.invitation_get(invitation_id=invitation_id)
        if invitation is None:
            raise exceptions.NotFound()
        return Response(InvitationOutput(invitation).data)

    @extend_schema(operation_id="invitations_revoke", responses={204: None, **error_responses(409)})
    def delete(self, request: Request, invitation_id: int) -> Response:
        with transaction.atomic():
            invitation = selectors.invitation_get_locked(invitation_id=invitation_id)
            if invitation is None:
                raise exceptions.NotFound()
            self.precondition(InvitationOutput(invitation).data)
            services.invitation_revoke(actor=actor_of(request), invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptApi(ApiView):
    """Accept by token (from the invitation email), with a password: the existing account's own password
    (a wrong one is 401 `invalid_credentials` and counts towards its lockout, 429 `login_throttled`), or
    a new one that creates the account."""

    authentication_classes: list = []
    permission_classes = [OnTenantHost]

    @extend_schema(
        operation_id="invitations_accept",
        request=InvitationAcceptInput,
        responses={201: MemberOutput, **error_responses(409)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
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
            tenant=tenant_of(request),
            invitation=invitation,
            password=password,
            full_name=data.validated_data["full_name"],
            account=account,
        )
        return Response(MemberOutput(membership).data, status=status.HTTP_201_CREATED)
