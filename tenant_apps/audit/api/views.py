"""The audit log, for the organization's owners and admins."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import filters, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.accounts.permissions import IsTenantAdmin
from shared_apps.accounts.viewsets import TenantViewSet
from tenant_apps.audit.models import AuditEvent
from tenant_apps.audit.selectors import audit_event_list
from tenants.base.api.docs import error_responses
from tenants.base.api.fields import MAX_ID
from tenants.base.api.filters import UtcIsoDateTimeFilter


class AuditEventOutput(serializers.ModelSerializer):
    actor_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor_id",
            "actor_email",
            "action",
            "target_type",
            "target_id",
            "ip",
            "request_id",
            "data",
        ]
        read_only_fields = fields


class AuditEventFilter(django_filters.FilterSet):
    actor_id = django_filters.NumberFilter(field_name="actor_id", min_value=1, max_value=MAX_ID)
    action = django_filters.CharFilter(field_name="action", max_length=64)
    target_type = django_filters.CharFilter(field_name="target_type", max_length=64)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    date = django_filters.DateFilter(field_name="created_at", lookup_expr="date")

    class Meta:
        model = AuditEvent
        fields = ["actor_id", "action", "target_type", "created_after", "created_before", "date"]


class AuditEventViewSet(TenantViewSet):
    scope_area = "admin"  # tokens need the admin scope (D64)
    permission_classes = [IsTenantAdmin]
    serializer_class = AuditEventOutput
    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    filterset_class = AuditEventFilter
    ordering_fields = ["created_at", "id"]

    queryset = AuditEvent.objects.none()

    def visible_queryset(self) -> QuerySet[AuditEvent]:
        return audit_event_list()  # owners and admins see the whole organization's log

    @extend_schema(operation_id="audit_events_list", responses={200: AuditEventOutput(many=True), **error_responses()})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(AuditEventOutput(page, many=True).data)
