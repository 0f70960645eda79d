"""Writes about people and memberships. An organization always keeps at least one owner."""

from __future__ import annotations

import math
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from shared_apps.accounts.models import Membership, Role, User
from shared_apps.accounts.signals import membership_changed
from tenants.models import Tenant
from tenants.services import tenant_provision

SECONDS_PER_MINUTE = 60
TOTP_DIGITS = 6
SECOND_FACTOR_MAX_LENGTH = 64  # longer input is neither a TOTP nor a recovery code


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


def organization_provision(
    *, slug: str, name: str, owner_email: str, owner_password: str | None = None, shard: str | None = None
) -> Tenant:
    """Create an organization with its owner, in one transaction (tenants.services.tenant_provision), on
    `shard` or on the shard with the most room."""

    def add_owner(tenant: Tenant) -> None:
        user, _ = user_get_or_create(email=owner_email, password=owner_password)
        membership_add(user=user, tenant_id=tenant.pk, role=Role.OWNER)

    return tenant_provision(slug=slug, name=name, on_created=add_owner, shard=shard)


def _seats_changed(tenant_id: int, change_id: str) -> None:
    """Announce the change after commit (billing's seat sync subscribes; its receiver never raises)."""
    transaction.on_commit(partial(_announce_membership_changed, tenant_id, change_id))


def _announce_membership_changed(tenant_id: int, change_id: str) -> None:
    membership_changed.send(sender=Membership, tenant_id=tenant_id, change_id=change_id)


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
        minutes = math.ceil(self.retry_after / SECONDS_PER_MINUTE)
        wait = (
            f"{self.retry_after} seconds"
            if self.retry_after < SECONDS_PER_MINUTE
            else f"{minutes} minute{'s' * (minutes != 1)}"
        )
        super().__init__(
            f"Too many failed sign-in attempts for this account or from your network. Try again in {wait}.",
            code="login_throttled",
        )


class InvalidCredentialsError(ValidationError):
    def __init__(self) -> None:
        super().__init__("Email or password is incorrect.", code="invalid_credentials")


class OtpRequiredError(ValidationError):
    """The password was right; the account has two-factor and no code was given."""

    def __init__(self, *, user: User) -> None:
        self.user = user
        super().__init__("Enter the code from your authenticator app (or a recovery code).", code="otp_required")


class OtpInvalidError(ValidationError):
    def __init__(self) -> None:
        super().__init__("That code is not valid. Try the current code from your app.", code="otp_invalid")


class TwoFactorEnrolmentRequiredError(ValidationError):
    def __init__(self) -> None:
        super().__init__(
            "This organization requires two-factor authentication. Set it up in the portal first "
            "(sign in there and follow the instructions).",
            code="two_factor_enrolment_required",
        )


def user_authenticate(
    *,
    request: HttpRequest,
    email: str,
    password: str,
    tenant_id: int | None = None,
    otp: str | None = None,
    enrolment_grace: bool = True,
) -> User:
    """The account these credentials belong to, or an error; never None.

    Failures count against the account and the client IP on every surface (shared_apps.accounts.lockout).
    With `tenant_id`, signing in succeeds only for a member of that organization: a right password of a
    non-member is answered, and counted, exactly like a wrong one, so no host reveals whether a
    password was right unless the person may sign in there.

    Two-factor (decisions D71): for an account with a confirmed authenticator, a right password alone
    raises `OtpRequiredError` (not counted; the account's failures are not reset either) unless `otp`
    carries a right code (TOTP or an unused recovery code); a wrong code raises `OtpInvalidError` and
    counts as a failed sign-in. The browser surfaces ask for the code on a second page
    (`second_factor_verify`). When `tenant_id`'s organization requires two-factor and the account has
    none, `enrolment_grace=False` (the API) refuses with `TwoFactorEnrolmentRequiredError`; the portal
    lets the person in to its enrolment page only.
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
    from shared_apps.accounts.selectors import two_factor_enabled, two_factor_required

    if two_factor_enabled(user=user):
        if not otp:
            raise OtpRequiredError(user=user)
        if _second_factor_match(user=user, code=otp) is None:
            lockout.login_failure_record(request=request, email=email)
            raise OtpInvalidError()
    elif not enrolment_grace and tenant_id is not None and two_factor_required(tenant_id=tenant_id):
        raise TwoFactorEnrolmentRequiredError()
    lockout.login_failures_reset(email=email)
    return user


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
    from tenants.base.observability import degraded
    from tenants.base.redis import VALKEY_ERRORS

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


# --- Two-factor: TOTP (django-otp) and hashed recovery codes (decisions D71, D72) -------------------

RECOVERY_CODE_COUNT = 10


def recovery_code_hash(raw: str) -> str:
    import hashlib

    normalised = "".join(ch for ch in raw.lower() if ch.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()


def _recovery_code_new() -> str:
    import base64
    import secrets

    text = base64.b32encode(secrets.token_bytes(5)).decode().lower()  # 8 chars, 40 bits
    text += base64.b32encode(secrets.token_bytes(5)).decode().lower()[:2]  # 10 chars, 50 bits
    return f"{text[:5]}-{text[5:]}"


@transaction.atomic
def _second_factor_match(*, user: User, code: str) -> str | None:
    """ "totp" or "recovery" when `code` is a right second factor of `user` (a recovery code is used up),
    else None."""
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from shared_apps.accounts.models import RecoveryCode

    code = (code or "").strip().replace(" ", "")
    if len(code) > SECOND_FACTOR_MAX_LENGTH:
        return None
    if code.isdigit() and len(code) == TOTP_DIGITS:
        for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
            if device.verify_token(code):
                return "totp"
        return None
    match = (
        RecoveryCode.objects.select_for_update()
        .filter(user=user, code_hash=recovery_code_hash(code), used_at__isnull=True)
        .first()
    )
    if match is None:
        return None
    match.used_at = timezone.now()
    match.save(update_fields=["used_at"])
    return "recovery"


def second_factor_verify(*, request: HttpRequest, user: User, code: str) -> str:
    """The second step of a browser sign-in (the password was checked by `user_authenticate`): the method
    used ("totp" or "recovery"), or `LoginThrottledError` / `OtpInvalidError`. A wrong code counts against
    the account and the IP exactly like a wrong password (D42); a right one resets the account's failures."""
    from shared_apps.accounts import lockout

    email = lockout.normalised_email(user.email) or ""
    remaining = lockout.lockout_remaining(email=email, ip=lockout.request_ip(request))
    if remaining:
        raise LoginThrottledError(retry_after=remaining)
    method = _second_factor_match(user=user, code=code)
    if method is None:
        lockout.login_failure_record(request=request, email=email)
        raise OtpInvalidError()
    lockout.login_failures_reset(email=email)
    return method


@transaction.atomic
def totp_device_start(*, user: User) -> object:
    """A new, unconfirmed authenticator for `user` (any earlier unconfirmed one is discarded)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


@transaction.atomic
def totp_device_confirm(*, user: User, code: str) -> list[str]:
    """Confirm the pending authenticator with a code from it; returns new recovery codes (shown once)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        raise ValidationError("Start the set-up again: no authenticator is waiting for confirmation.", code="no_device")
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == TOTP_DIGITS) or not device.verify_token(code):
        raise ValidationError(
            {"code": ValidationError("That code is not valid. Try the current one.", code="otp_invalid")}
        )
    TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return recovery_codes_regenerate(user=user)


@transaction.atomic
def recovery_codes_regenerate(*, user: User) -> list[str]:
    """Replace every recovery code of `user`; the new ones are returned once and stored hashed."""
    from shared_apps.accounts.models import RecoveryCode

    RecoveryCode.objects.filter(user=user).delete()
    codes = [_recovery_code_new() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=recovery_code_hash(c)) for c in codes])
    return codes


@transaction.atomic
def two_factor_disable(*, user: User, password: str) -> None:
    """Remove the authenticator and recovery codes (the current password is required). Refused while an
    organization the person belongs to requires two-factor."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from shared_apps.accounts.models import RecoveryCode
    from shared_apps.accounts.selectors import two_factor_required_by

    if not user.check_password(password):
        raise ValidationError({"password": ValidationError("Your password is incorrect.", code="password_incorrect")})
    required_by = two_factor_required_by(user=user)
    if required_by:
        raise ValidationError(
            f"{', '.join(required_by)} require{'s' if len(required_by) == 1 else ''} two-factor authentication: "
            "it cannot be turned off while you are a member.",
            code="two_factor_required",
        )
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()


def two_factor_policy_set(*, tenant_id: int, required: bool) -> bool:
    """Set "require two-factor for every member"; True when it changed."""
    from shared_apps.accounts.models import TwoFactorPolicy

    policy, _ = TwoFactorPolicy.objects.get_or_create(tenant_id=tenant_id)
    if policy.required == required:
        return False
    policy.required = required
    policy.save(update_fields=["required", "updated_at"])
    return True


# --- Profile: name, password, email, sessions (decisions D73) ---------------------------------------


def user_name_change(*, user: User, full_name: str) -> User:
    user.full_name = full_name.strip()
    user.save(update_fields=["full_name"])
    return user


@transaction.atomic
def user_password_change(*, request: HttpRequest, user: User, current: str, new: str) -> int:
    """Change the password (the current one is required; a wrong one counts as a failed sign-in) and sign
    out every other session. Returns how many other sessions were signed out."""
    from django.contrib.auth import update_session_auth_hash
    from django.contrib.auth.password_validation import validate_password

    from shared_apps.accounts import lockout

    if lockout.lockout_remaining(email=user.email, ip=lockout.request_ip(request)):
        raise ValidationError(
            {"current_password": ValidationError("Too many failed attempts. Try again later.", code="login_throttled")}
        )
    if not user.check_password(current):
        transaction.on_commit(lambda: lockout.login_failure_record(request=request, email=user.email))
        raise ValidationError(
            {"current_password": ValidationError("Your current password is incorrect.", code="password_incorrect")}
        )
    try:
        validate_password(new, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.error_list}) from exc
    from shared_apps.accounts.models import UserSession

    user.set_password(new)
    user.save(update_fields=["password"])
    old_key = request.session.session_key
    signed_out = user_sessions_revoke_others(user=user, keep_key=old_key)
    update_session_auth_hash(request, user)  # this session stays signed in, under a new key
    UserSession.objects.filter(user=user, session_key=old_key or "").update(session_key=request.session.session_key)
    return signed_out


EMAIL_CHANGE_SALT = "tenantry.accounts.email-change"
EMAIL_CHANGE_MAX_AGE_SECONDS = 24 * 3600


def user_email_change_request(*, user: User, new_email: str, confirm_base_url: str) -> None:
    """Mail a confirmation link to the new address (and a notice to the current one). Nothing changes
    until the link is followed."""
    from django.core import signing

    from shared_apps.accounts.emails import email_send_on_commit

    new_email = User.objects.normalize_email(new_email).strip().lower()
    if new_email == user.email:
        raise ValidationError({"email": ValidationError("That is already your email address.", code="email_same")})
    raw = signing.dumps({"u": user.pk, "e": new_email, "o": user.email}, salt=EMAIL_CHANGE_SALT)
    url = f"{confirm_base_url.rstrip('/')}/{raw}/"
    email_send_on_commit(name="email_change", to=new_email, context={"user": user, "new_email": new_email, "url": url})
    email_send_on_commit(name="email_change_notice", to=user.email, context={"user": user, "new_email": new_email})


@transaction.atomic
def user_email_change_confirm(*, raw: str) -> User:
    """Apply a confirmed email change once; a forged, expired, used or stale link is refused."""
    from django.core import signing

    invalid = ValidationError(
        "This link is invalid, used or expired. Ask for a new one on your profile.", code="token_invalid"
    )
    try:
        data = signing.loads(raw, salt=EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE_SECONDS)
    except signing.BadSignature as exc:
        raise invalid from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise invalid
    user = User.objects.select_for_update().filter(pk=int(data["u"]), is_active=True).first()
    if user is None or user.email != data.get("o"):
        raise invalid
    new_email = str(data.get("e", ""))
    if User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists():
        raise ValidationError("Another account already uses that address.", code="email_taken")
    user.email = new_email
    user.save(update_fields=["email"])
    return user


def user_session_record(*, request: HttpRequest, user: User) -> None:
    """Remember a new signed-in session (on `user_logged_in`)."""
    from shared_apps.accounts.models import UserSession
    from tenants.base.network import client_ip

    key = request.session.session_key
    if not key:
        request.session.save()
        key = request.session.session_key
    import time

    request.session[SEEN_KEY] = time.time()  # just seen: no activity write on the next requests
    UserSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "host": str(request.META.get("HTTP_HOST", ""))[:255],
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
            "ip": client_ip(request),
        },
    )


# The session key holding when the session's activity was last written (SessionActivityMiddleware).
SEEN_KEY = "_activity_seen"


def user_session_touch(*, request: HttpRequest, user: User) -> None:
    from django.utils import timezone

    from shared_apps.accounts.models import UserSession
    from tenants.base.network import client_ip

    updated = UserSession.objects.filter(session_key=request.session.session_key, user=user).update(
        last_seen_at=timezone.now(), user_agent=request.META.get("HTTP_USER_AGENT", "")[:300], ip=client_ip(request)
    )
    if not updated:
        user_session_record(request=request, user=user)


@transaction.atomic
def user_session_revoke(*, user: User, session_key: str) -> bool:
    """Sign out one of `user`'s sessions (another person's session key does nothing)."""
    from django.contrib.sessions.models import Session

    from shared_apps.accounts.models import UserSession

    deleted, _ = UserSession.objects.filter(user=user, session_key=session_key).delete()
    if deleted:
        Session.objects.filter(session_key=session_key).delete()
    return bool(deleted)


@transaction.atomic
def user_sessions_revoke_others(*, user: User, keep_key: str | None) -> int:
    """Sign out every session of `user` but `keep_key`; the number signed out."""
    from django.contrib.sessions.models import Session

    from shared_apps.accounts.models import UserSession

    others = UserSession.objects.filter(user=user).exclude(session_key=keep_key or "")
    keys = list(others.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    others.delete()
    return len(keys)


def account_event_record(*, request: HttpRequest, user: User, action: str, data: dict | None = None) -> None:
    """A security event on the public host (D74): there is no organization whose audit log applies."""
    from shared_apps.accounts.models import AccountEvent
    from tenants.base.network import client_ip

    AccountEvent.objects.create(
        user=user,
        action=action,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        data=data or {},
    )
