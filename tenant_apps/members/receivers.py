"""Invalidation points: whatever path removes a membership (the API, the portal, the operator admin),
the person's team places in that organization go with it, so team grants end on the next request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Membership
from tenant_apps.members.models import TeamMember
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def in_member_schema(membership: Membership, work: Callable[[], object], what: str) -> None:
    """Run `work` in the schema of the membership's organization (a membership row is global; what goes
    with it lives in the tenant schema). Tolerates an organization whose schema is already gone."""
    schema = Tenant.objects.filter(pk=membership.tenant_id).values_list("schema_name", flat=True).first()
    if schema is None:
        return
    try:
        # A savepoint: an organization being deleted may have lost its schema already.
        with transaction.atomic():
            if getattr(connection, "schema_name", None) == schema:
                work()
            else:
                with schema_context(schema):
                    work()
    except DatabaseError:
        logger.warning("%s of user %s not cleared: schema %s unavailable", what, membership.user_id, schema)


@receiver(post_delete, sender=Membership, dispatch_uid="members.team_places_on_membership_delete")
def team_places_drop(sender: Any, instance: Membership, **kwargs: Any) -> None:
    in_member_schema(instance, TeamMember.objects.filter(user_id=instance.user_id).delete, "team places")
