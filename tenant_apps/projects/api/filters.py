"""Query filters for project and task lists (django-filter)."""

import django_filters

from tenant_apps.projects.models import Project, Task, TaskStatus
from tenants.base.api.fields import MAX_ID
from tenants.base.api.filters import UtcIsoDateTimeFilter


class ProjectFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=200)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    archived = django_filters.BooleanFilter(field_name="archived_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Project
        fields = ["name", "created_after", "created_before", "archived"]


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices)
    assignee_id = django_filters.NumberFilter(field_name="assignee_id", min_value=1, max_value=MAX_ID)
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = Task
        fields = ["status", "assignee_id", "due_after", "due_before"]
