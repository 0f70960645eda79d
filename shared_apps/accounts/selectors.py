"""Reads about people and their memberships."""

from __future__ import annotations

from django.db.models import QuerySet

from shared_apps.accounts.models import Membership, User


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


def tenants_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def user_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email.strip()).exists()


def two_factor_enabled(*, user: User) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_pending_device(*, user: User) -> object | None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


def two_factor_required(*, tenant_id: int) -> bool:
    from shared_apps.accounts.models import TwoFactorPolicy

    return TwoFactorPolicy.objects.filter(tenant_id=tenant_id, required=True).exists()


def two_factor_required_by(*, user: User) -> list[str]:
    """Names of the organizations of `user` that require two-factor."""
    from shared_apps.accounts.models import TwoFactorPolicy

    return list(
        TwoFactorPolicy.objects.filter(required=True, tenant__memberships__user=user)
        .order_by("tenant__name")
        .values_list("tenant__name", flat=True)
    )


def recovery_codes_remaining(*, user: User) -> int:
    from shared_apps.accounts.models import RecoveryCode

    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def user_sessions_list(*, user: User) -> QuerySet:
    from shared_apps.accounts.models import UserSession

    return UserSession.objects.filter(user=user).order_by("-last_seen_at")
