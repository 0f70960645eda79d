"""Operator reads: organizations with their plan, billed seats and member count in one query.

Used by the Django admin's organization list and by `manage.py tenant list`. The plan is the one
`billing.selectors.plan_code_for_tenant` gives (the newest live subscription's plan, the default plan
without one), computed in SQL so a list of organizations costs one query whatever its length.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from billing.models import LIVE_SUBSCRIPTION_STATUSES, Subscription
from shared_apps.accounts.models import Membership
from tenants.models import Tenant


def _live_subscriptions() -> QuerySet[Subscription]:
    return Subscription.objects.filter(tenant_id=OuterRef("pk"), status__in=LIVE_SUBSCRIPTION_STATUSES).order_by(
        "-created_at"
    )


def organizations_annotate(queryset: QuerySet[Tenant]) -> QuerySet[Tenant]:
    """Adds `live_plan_code` (None without a live subscription), `billed_seats` (the live
    subscription's quantity, None without one) and `member_count`."""
    members = (
        Membership.objects.filter(tenant_id=OuterRef("pk"))
        .order_by()
        .values("tenant_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return queryset.annotate(
        live_plan_code=Subquery(_live_subscriptions().values("plan_code")[:1]),
        billed_seats=Subquery(_live_subscriptions().values("quantity")[:1]),
        member_count=Coalesce(Subquery(members, output_field=IntegerField()), Value(0)),
    )


def organization_plan(tenant: Tenant) -> str:
    """The plan of an organization from `organizations_annotate` (same rule as plan_code_for_tenant)."""
    code = getattr(tenant, "live_plan_code", None)
    return code if code and code in settings.BILLING_PLANS else settings.BILLING_DEFAULT_PLAN


def organization_list() -> QuerySet[Tenant]:
    return organizations_annotate(Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)).order_by("slug")
