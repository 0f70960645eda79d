"""Output serializers of members and invitations: how the API (and the outgoing webhooks, which render
objects exactly as the API does) show them. Kept apart from the views so that rendering an event does
not import the views, which import the services that emit the events."""

from __future__ import annotations

from rest_framework import serializers

from shared_apps.accounts.models import Role
from tenant_apps.invitations.models import Invitation


class MemberOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    role = serializers.ChoiceField(choices=Role.choices)
    joined_at = serializers.DateTimeField(source="created_at")


class InvitationOutput(serializers.ModelSerializer):
    invited_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "invited_by_id", "created_at", "expires_at", "accepted_at"]
        read_only_fields = fields
