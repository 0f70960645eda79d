"""Writes about people and memberships. An organization always keeps at least one owner."""

from __future__ import annotations

import math
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from shared_apps.accounts.models import Membership, Role, User


class LastOwnerError(ValidationError):
    def __init__(self) -> None:
        super().__init__("An organization must keep at least one owner.", code="last_owner")


def user_create(*, email: str, password: str | None, full_name: str = "") -> User:
    return User.objects.create_user(email=email, password=password, full_name=full_name)


def user_get_or_create(*, email: str, password: str | None = None) -> tuple[User, bool]:
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user, False
    return user_create(email=email, password=password), True


@transaction.atomic
def membership_add(*, user: User, tenant_id: int, role: str = Role.MEMBER) -> Membership:
    if role not in Role.values:
        raise ValidationError("Unknown role.", code="invalid_role")
    membership, created = Membership.objects.get_or_create(user=user, tenant_id=tenant_id, defaults={"role": role})
    if not created and membership.role != role:
        membership = membership_change_role(membership=membership, role=role)
    if created:
        _seats_changed(tenant_id, f"add:{membership.pk}")
    return membership


def _seats_changed(tenant_id: int, change_id: str) -> None:
    """Billing seats follow members (after commit; billing.hooks never raises)."""
    from billing.hooks import on_membership_changed

    transaction.on_commit(partial(on_membership_changed, tenant_id, change_id))


def _lock_owners(tenant_id: int) -> int:
    """Lock the tenant's owner rows, so two concurrent demotions cannot both pass the check."""
    return len(list(Membership.objects.select_for_update().filter(tenant_id=tenant_id, role=Role.OWNER)))


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError("Unknown role.", code="invalid_role")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and role != Role.OWNER and _lock_owners(membership.tenant_id) <= 1:
        raise LastOwnerError()
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and _lock_owners(membership.tenant_id) <= 1:
        raise LastOwnerError()
    change_id = f"remove:{membership.pk}"
    membership.delete()
    _seats_changed(membership.tenant_id, change_id)


class LoginThrottledError(ValidationError):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        minutes = math.ceil(self.retry_after / 60)
        wait = f"{self.retry_after} seconds" if self.retry_after < 60 else f"{minutes} minute{'s' * (minutes != 1)}"
        super().__init__(
            f"Too many failed sign-in attempts for this account or from your network. Try again in {wait}.",
            code="login_throttled",
        )


class InvalidCredentialsError(ValidationError):
    def __init__(self) -> None:
        super().__init__("Email or password is incorrect.", code="invalid_credentials")


def user_authenticate(*, request: HttpRequest, email: str, password: str, tenant_id: int | None = None) -> User:
    """The account these credentials belong to, or an error; never None.

    Failures count against the account and the client IP on every surface (shared_apps.accounts.lockout).
    With `tenant_id`, signing in succeeds only for a member of that organization: a right password of a
    non-member is answered, and counted, exactly like a wrong one, so no host reveals whether a
    password was right unless the person may sign in there.
    """
    from django.contrib.auth import authenticate

    from shared_apps.accounts import lockout

    email = lockout.normalised_email(email) or ""
    remaining = lockout.lockout_remaining(email=email, ip=lockout.request_ip(request))
    if remaining:
        raise LoginThrottledError(retry_after=remaining)
    user = authenticate(request, username=email, password=password)
    if (
        user is not None
        and tenant_id is not None
        and not Membership.objects.filter(user=user, tenant_id=tenant_id).exists()
    ):
        lockout.login_failure_record(request=request, email=email)
        user = None
    if user is None:
        raise InvalidCredentialsError()
    lockout.login_failures_reset(email=email)
    return user  # type: ignore[return-value]


# --- Cross-host sign-in hand-off ------------------------------------------------------------------
# Sessions are per host (a tenant's cookie never reaches another tenant's host). Signing up or
# signing in on the public host, or switching organization, hands the person over to the tenant
# host with a signed, single-use token that lives one minute.

HANDOFF_SALT = "tenantry.accounts.handoff"
HANDOFF_MAX_AGE_SECONDS = 60


def handoff_token_issue(*, user: User, tenant_id: int) -> str:
    import secrets

    from django.core import signing

    return signing.dumps({"u": user.pk, "t": tenant_id, "n": secrets.token_urlsafe(16)}, salt=HANDOFF_SALT)


def handoff_token_redeem(*, raw: str, tenant_id: int) -> User | None:
    """The member the token was issued for, once; None when forged, expired, reused or foreign."""
    from django.core import signing
    from django.core.cache import cache

    try:
        data = signing.loads(raw, salt=HANDOFF_SALT, max_age=HANDOFF_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") != tenant_id:
        return None
    # First redemption wins; the marker outlives the token itself.
    from tenants.observability import degraded
    from tenants.redis import VALKEY_ERRORS

    try:
        first = cache.add(f"handoff-used:{data.get('n')}", 1, timeout=HANDOFF_MAX_AGE_SECONDS * 2)
    except VALKEY_ERRORS as exc:  # cannot prove single use: refuse; the password sign-in still works
        degraded(component="cache", feature="signin_handoff", exc=exc)
        return None
    if not first:
        return None
    user_id = data.get("u")
    if not isinstance(user_id, int):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not Membership.objects.filter(user=user, tenant_id=tenant_id).exists():
        return None
    return user
