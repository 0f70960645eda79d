"""Audit log filters for the portal (django-filter on a plain Django view)."""

from __future__ import annotations

import django_filters
from django import forms

from tenant_apps.audit.models import AuditEvent


class PortalAuditFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_email", lookup_expr="icontains", max_length=254, label="Actor email"
    )
    action = django_filters.CharFilter(field_name="action", lookup_expr="startswith", max_length=64)
    since = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "since", "until"]
