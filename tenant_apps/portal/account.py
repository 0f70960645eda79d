"""Account and two-factor writes made on an organization's host: the accounts service does the work and
this organization's audit log records it, in one transaction (docs/portal.md "Account", D74)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from shared_apps.accounts import services as accounts
from shared_apps.accounts.emails import email_send_on_commit
from shared_apps.accounts.models import User
from tenant_apps.audit.services import audit_event_record
from tenants.base.actor import Actor


def _audit(actor: Actor, action: str, user: User, data: dict | None = None) -> None:
    audit_event_record(actor=actor, action=action, target_type="user", target_id=user.pk, data=data or {})


def _notify_two_factor(user: User, change: str, origin: str) -> None:
    email_send_on_commit(
        name="two_factor_changed", to=user.email, context={"user": user, "change": change, "origin": origin}
    )


@transaction.atomic
def sign_in_record(*, actor: Actor, user: User, method: str) -> None:
    """A sign-in to this organization's portal (method: password, totp, recovery, handoff)."""
    _audit(actor, "auth.signed_in", user, {"method": method})


@transaction.atomic
def sign_in_failed_record(*, actor: Actor, user: User, reason: str) -> None:
    """A refused second step for a member of this organization (the password was right)."""
    _audit(actor, "auth.two_factor_failed", user, {"reason": reason})


@transaction.atomic
def two_factor_enable(*, actor: Actor, user: User, code: str, origin: str) -> list[str]:
    codes = accounts.totp_device_confirm(user=user, code=code)
    _audit(actor, "two_factor.enabled", user)
    _notify_two_factor(user, "enabled", origin)
    return codes


@transaction.atomic
def two_factor_turn_off(*, actor: Actor, user: User, password: str, origin: str) -> None:
    accounts.two_factor_disable(user=user, password=password)
    _audit(actor, "two_factor.disabled", user)
    _notify_two_factor(user, "disabled", origin)


@transaction.atomic
def recovery_codes_renew(*, actor: Actor, user: User, origin: str) -> list[str]:
    codes = accounts.recovery_codes_regenerate(user=user)
    _audit(actor, "two_factor.recovery_codes_regenerated", user)
    _notify_two_factor(user, "recovery_codes", origin)
    return codes


@transaction.atomic
def password_change(*, actor: Actor, request: HttpRequest, user: User, current: str, new: str) -> int:
    signed_out = accounts.user_password_change(request=request, user=user, current=current, new=new)
    _audit(actor, "user.password_changed", user, {"sessions_signed_out": signed_out})
    return signed_out


@transaction.atomic
def session_revoke(*, actor: Actor, user: User, session_key: str) -> bool:
    done = accounts.user_session_revoke(user=user, session_key=session_key)
    if done:
        _audit(actor, "session.revoked", user, {"sessions": 1})
    return done


@transaction.atomic
def sessions_revoke_others(*, actor: Actor, user: User, keep_key: str | None) -> int:
    count = accounts.user_sessions_revoke_others(user=user, keep_key=keep_key)
    _audit(actor, "session.revoked", user, {"sessions": count, "scope": "others"})
    return count


@transaction.atomic
def two_factor_requirement_set(*, actor: Actor, tenant_id: int, required: bool) -> bool:
    changed = accounts.two_factor_policy_set(tenant_id=tenant_id, required=required)
    if changed:
        audit_event_record(
            actor=actor,
            action="organization.two_factor_required" if required else "organization.two_factor_optional",
            target_type="organization",
            target_id=tenant_id,
        )
    return changed


@transaction.atomic
def name_change(*, actor: Actor, user: User, full_name: str) -> None:
    old = user.full_name
    accounts.user_name_change(user=user, full_name=full_name)
    if old != user.full_name:
        _audit(actor, "user.name_changed", user)


@transaction.atomic
def email_change_request(*, actor: Actor, user: User, new_email: str, confirm_base_url: str) -> None:
    accounts.user_email_change_request(user=user, new_email=new_email, confirm_base_url=confirm_base_url)
    _audit(actor, "user.email_change_requested", user)


@transaction.atomic
def email_change_confirm(*, actor: Actor, raw: str) -> User:
    user = accounts.user_email_change_confirm(raw=raw)
    _audit(actor, "user.email_changed", user)
    return user
