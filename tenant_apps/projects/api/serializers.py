"""Explicit input and output shapes of the projects API."""

from __future__ import annotations

from rest_framework import serializers

from tenant_apps.projects.models import Project, Task, TaskStatus
from tenant_apps.projects.policies import PROJECT_PERMISSIONS
from tenants.base.api.fields import IdField


class ProjectOutput(serializers.ModelSerializer):
    created_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    archived = serializers.BooleanField(read_only=True)

    class Meta:
        model = Project
        fields = ["id", "name", "description", "archived", "archived_at", "created_by_id", "created_at", "updated_at"]
        read_only_fields = fields


class ProjectCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")


class ProjectUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    archived = serializers.BooleanField(required=False, help_text="Archive (true) or restore (false) the project.")


class TaskOutput(serializers.ModelSerializer):
    project_id = serializers.IntegerField(read_only=True)
    assignee_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "project_id",
            "title",
            "description",
            "status",
            "assignee_id",
            "due_date",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TaskCreateInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False, default=TaskStatus.TODO)
    assignee_id = IdField(required=False, allow_null=True, default=None)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)


class TaskUpdateInput(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    assignee_id = IdField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)


PERMISSION_CHOICES = sorted(PROJECT_PERMISSIONS)


class PermissionGrantInput(serializers.Serializer):
    user_id = IdField()
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=PERMISSION_CHOICES), min_length=1, max_length=4
    )


class PermissionRevokeQuery(serializers.Serializer):
    user_id = IdField()
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=PERMISSION_CHOICES), required=False, max_length=4
    )


class ProjectGrantOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    email = serializers.EmailField()
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=PERMISSION_CHOICES))


class PermissionRevokeOutput(serializers.Serializer):
    removed = serializers.IntegerField()


class TeamPermissionGrantInput(serializers.Serializer):
    team_id = IdField()
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=PERMISSION_CHOICES), min_length=1, max_length=4
    )


class TeamPermissionRevokeQuery(serializers.Serializer):
    team_id = IdField()
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=PERMISSION_CHOICES), required=False, max_length=4
    )


class ProjectTeamGrantOutput(serializers.Serializer):
    team_id = serializers.IntegerField()
    name = serializers.CharField()
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=PERMISSION_CHOICES))
