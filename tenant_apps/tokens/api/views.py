"""Token exchange (email + password -> personal API token for this organization), list, revoke."""

from __future__ import annotations

from typing import cast

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.accounts.permissions import OnTenantHost
from shared_apps.accounts.services import user_authenticate
from shared_apps.accounts.viewsets import TenantViewSet
from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.scopes import SCOPE_CHOICES
from tenant_apps.tokens.selectors import api_token_list
from tenant_apps.tokens.services import MAX_EXPIRY_DAYS, api_token_create, api_token_revoke
from tenants.base.actor import Actor
from tenants.base.api.context import actor_of, client_ip_of, tenant_of, user_of
from tenants.base.api.docs import error_responses


class TokenOutput(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class TokenCreatedOutput(TokenOutput):
    token = serializers.CharField(help_text="The secret. Shown once; only its hash is stored.")

    class Meta(TokenOutput.Meta):
        fields = [*TokenOutput.Meta.fields, "token"]
        read_only_fields = fields


class TokenCreateInput(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    expires_in_days = serializers.IntegerField(min_value=1, max_value=MAX_EXPIRY_DAYS, required=False)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=SCOPE_CHOICES),
        required=False,
        allow_empty=False,
        max_length=len(SCOPE_CHOICES),
        help_text="What the token may do; a wider scope includes the narrower ones. Default: all (full access).",
    )
    otp = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="With two-factor on: the current 6-digit code, or an unused recovery code. Missing: 401 "
        "`otp_required`; wrong: 401 `otp_invalid` (counted by the sign-in lockout).",
    )


class TokenViewSet(TenantViewSet):
    """The caller's own API tokens in this organization (nobody sees another person's tokens)."""

    queryset = ApiToken.objects.none()
    serializer_class = TokenOutput
    lookup_url_kwarg = "token_id"
    filter_backends: list = []

    def visible_queryset(self) -> QuerySet[ApiToken]:
        return api_token_list(user=user_of(self.request))

    def get_object(self) -> ApiToken:
        return cast(ApiToken, super().get_object())

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenCreateInput,
        responses={201: TokenCreatedOutput, **error_responses()},
        auth=[],
    )
    def obtain(self, request: Request) -> Response:
        """Bound at `auth/token/` with no authentication (tenant_apps/api/urls.py)."""
        data = TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # Locked out: 429 `login_throttled` with Retry-After. Not a member of this organization: the same
        # answer as a wrong password (401 `invalid_credentials`), counted as a failure too. Two-factor:
        # 401 `otp_required` / `otp_invalid`; 403 `two_factor_enrolment_required` (organization rule).
        user = user_authenticate(
            request=request._request,
            email=v["email"],
            password=v["password"],
            tenant_id=tenant_of(request).pk,
            otp=v.get("otp") or None,
            enrolment_grace=False,
        )
        actor = Actor(user=user, ip=client_ip_of(request), request_id=actor_of(request).request_id)
        token, raw = api_token_create(
            actor=actor, user=user, name=v["name"], expires_in_days=v.get("expires_in_days"), scopes=v.get("scopes")
        )
        token.token = raw  # type: ignore[attr-defined]  # shown this once, never stored
        return Response(TokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="auth_tokens_list", responses={200: TokenOutput(many=True), **error_responses()})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TokenOutput(page, many=True).data)

    @extend_schema(operation_id="auth_tokens_revoke", responses={204: None, **error_responses()})
    def destroy(self, request: Request, token_id: int) -> Response:
        api_token_revoke(actor=actor_of(request), token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# `POST auth/token/`: the exchange needs no credential, only a tenant host.
token_obtain_view = TokenViewSet.as_view(
    {"post": "obtain"}, authentication_classes=[], permission_classes=[OnTenantHost]
)
