"""Whatever path removes a membership, the person's own project grants in that organization go with it
(members sits below projects, so it announces the removal and projects clears its own rows)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from shared_apps.accounts.models import Membership
from tenant_apps.members.receivers import in_member_schema
from tenant_apps.projects.models import ProjectUserObjectPermission


@receiver(post_delete, sender=Membership, dispatch_uid="projects.grants_on_membership_delete")
def project_grants_drop(sender: Any, instance: Membership, **kwargs: Any) -> None:
    grants = ProjectUserObjectPermission.objects.filter(user_id=instance.user_id)
    in_member_schema(instance, grants.delete, "project grants")
