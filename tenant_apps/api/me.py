"""`/api/v1/me/`: who you are here, your role, and your organization's plan and limits."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.accounts.models import Role
from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.scopes import SCOPE_CHOICES
from tenants.base.api.context import entitlements_of, tenant_of, user_of
from tenants.base.api.docs import error_responses
from tenants.base.api.scopes import scopes_of
from tenants.base.api.views import ApiView

MeOutput = inline_serializer(
    name="Me",
    fields={
        "user": inline_serializer(
            name="MeUser",
            fields={
                "id": serializers.IntegerField(),
                "email": serializers.EmailField(),
                "full_name": serializers.CharField(),
            },
        ),
        "credential": inline_serializer(
            name="MeCredential",
            fields={
                "type": serializers.ChoiceField(choices=["token", "session"]),
                "scopes": serializers.ListField(
                    child=serializers.ChoiceField(choices=SCOPE_CHOICES),
                    help_text="Effective scopes of this request's credential (a session has all of them).",
                ),
            },
        ),
        "membership": inline_serializer(
            name="MeMembership",
            fields={"role": serializers.ChoiceField(choices=Role.choices), "joined_at": serializers.DateTimeField()},
        ),
        "organization": inline_serializer(
            name="MeOrganization",
            fields={
                "name": serializers.CharField(),
                "slug": serializers.CharField(),
                "status": serializers.CharField(),
                "plan": serializers.CharField(),
                "read_only": serializers.BooleanField(),
                "limits": inline_serializer(
                    name="PlanLimits",
                    fields={
                        "seats": serializers.IntegerField(allow_null=True),
                        "projects": serializers.IntegerField(allow_null=True),
                        "api_rpm": serializers.IntegerField(allow_null=True),
                    },
                ),
            },
        ),
    },
)


class MeApi(ApiView):
    @extend_schema(operation_id="me_retrieve", responses={200: MeOutput, **error_responses()})
    def get(self, request: Request) -> Response:
        user, membership, tenant = user_of(request), self.membership, tenant_of(request)
        ent = entitlements_of(request)
        return Response(
            {
                "user": {"id": user.pk, "email": user.email, "full_name": user.full_name},
                "credential": {
                    "type": "token" if isinstance(request.auth, ApiToken) else "session",
                    "scopes": scopes_of(request),
                },
                "membership": {"role": membership.role, "joined_at": membership.created_at},
                "organization": {
                    "name": tenant.name,
                    "slug": tenant.slug,
                    "status": tenant.status,
                    "plan": ent.plan,
                    "read_only": ent.read_only,
                    "limits": {"seats": ent.seats, "projects": ent.projects, "api_rpm": ent.api_rpm},
                },
            }
        )
