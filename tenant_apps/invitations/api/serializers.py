"""Output serializers of invitations (members: tenant_apps/members/api/serializers.py): how the API
(and the outgoing webhooks, which render objects exactly as the API does) show them. Kept apart from the
views so that rendering an event does not import the views, which import the services that emit the events."""

from __future__ import annotations

from rest_framework import serializers

from tenant_apps.invitations.models import Invitation
from tenant_apps.members.api.serializers import MemberOutput

__all__ = ["InvitationOutput", "MemberOutput"]  # MemberOutput: tenant_apps/members (re-exported)


class InvitationOutput(serializers.ModelSerializer):
    invited_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "invited_by_id", "created_at", "expires_at", "accepted_at"]
        read_only_fields = fields
