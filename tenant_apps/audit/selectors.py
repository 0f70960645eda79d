"""Audit reads."""

from __future__ import annotations

from django.db.models import QuerySet

from tenant_apps.audit.models import AuditEvent


def audit_event_list() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.all()
