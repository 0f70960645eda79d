"""Reads about people and their memberships."""

from __future__ import annotations

from django.db.models import QuerySet

from shared_apps.accounts.models import Membership, Role, User


def membership_get(*, user: User, tenant_id: int) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, tenant_id=tenant_id).first()


def membership_list(*, tenant_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant_id=tenant_id).select_related("user")


def membership_for_user_id(*, tenant_id: int, user_id: int) -> Membership | None:
    return Membership.objects.filter(tenant_id=tenant_id, user_id=user_id).select_related("user").first()


def membership_for_user_id_locked(*, tenant_id: int, user_id: int) -> Membership | None:
    """The membership row locked until the caller's transaction ends (If-Match is compared on it)."""
    return (
        Membership.objects.select_for_update(of=("self",))
        .filter(tenant_id=tenant_id, user_id=user_id)
        .select_related("user")
        .first()
    )


def membership_count(*, tenant_id: int) -> int:
    return Membership.objects.filter(tenant_id=tenant_id).count()


def owner_count(*, tenant_id: int) -> int:
    return Membership.objects.filter(tenant_id=tenant_id, role=Role.OWNER).count()


def tenants_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def user_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email.strip()).exists()
