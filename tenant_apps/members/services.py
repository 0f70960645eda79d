"""Member and team writes. Membership rows live in `public`, team rows, grants and audit rows in the
tenant's schema; all are on the same connection, so one transaction covers them."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared_apps.accounts.models import Membership, Role
from shared_apps.accounts.policies import member_manageable, role_grantable
from shared_apps.accounts.selectors import membership_for_user_id
from shared_apps.accounts.services import membership_change_role, membership_remove
from tenant_apps.audit.services import audit_event_record
from tenant_apps.members.models import Team, TeamMember
from tenant_apps.members.policies import team_member_allowed
from tenant_apps.members.selectors import in_teams_key
from tenant_apps.outgoing.services import outbox_record
from tenant_apps.tokens.models import ApiToken
from tenants.base.actor import Actor
from tenants.base.observability import degraded
from tenants.base.redis import VALKEY_ERRORS
from tenants.models import Tenant


def in_teams_forget(*, user_ids: list[int]) -> None:
    """Drop the cached "in a team?" answers of these people, now and again after the commit (a request
    that read the old rows meanwhile may have cached them again)."""
    if not user_ids:
        return
    keys = [in_teams_key(user_id=u) for u in user_ids]

    def forget() -> None:
        try:
            cache.delete_many(keys)
        except VALKEY_ERRORS as exc:
            degraded(component="cache", feature="members_in_teams", exc=exc)

    forget()
    transaction.on_commit(forget)


def role_not_grantable_error(role: str, *, verb: str) -> ValidationError:
    if role == Role.OWNER:
        return ValidationError(f"Only an owner can {verb} an owner.", code="forbidden")
    return ValidationError(f"Your role may not {verb} {role}.", code="forbidden")


def _owner_rule(*, actor_role: str, target_role: str, new_role: str | None = None) -> None:
    """Only owners touch owners or make new ones (accounts.policies, the one rule for every surface)."""
    if not member_manageable(by=actor_role, target_role=target_role):
        raise ValidationError("Only an owner can change owners.", code="forbidden")
    if new_role is not None and not role_grantable(by=actor_role, role=new_role):
        raise role_not_grantable_error(new_role, verb="make someone")


@transaction.atomic
def member_change_role(*, actor: Actor, actor_role: str, membership: Membership, role: str) -> Membership:
    _owner_rule(actor_role=actor_role, target_role=membership.role, new_role=role)
    old = membership.role
    membership = membership_change_role(membership=membership, role=role)
    if not team_member_allowed(role=role):
        # A billing member sees billing only: they leave their teams (and the teams' grants with them).
        TeamMember.objects.filter(user_id=membership.user_id).delete()
        in_teams_forget(user_ids=[membership.user_id])
    audit_event_record(
        actor=actor,
        action="member.role_changed",
        target_type="user",
        target_id=membership.user_id,
        data={"from": old, "to": role},
    )
    outbox_record(event_type="member.role_changed", obj=membership)
    return membership


@transaction.atomic
def member_remove(*, actor: Actor, actor_role: str, membership: Membership) -> None:
    """Remove a member: their object permissions, team places and API tokens in this tenant go with them."""
    _owner_rule(actor_role=actor_role, target_role=membership.role)
    user_id, role = membership.user_id, membership.role
    # Its post_delete receivers also clear their project grants (projects) and team places (members).
    membership_remove(membership=membership)
    TeamMember.objects.filter(user_id=user_id).delete()
    in_teams_forget(user_ids=[user_id])
    ApiToken.objects.filter(user_id=user_id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit_event_record(actor=actor, action="member.removed", target_type="user", target_id=user_id, data={"role": role})
    outbox_record(event_type="member.removed", obj=membership)


# --- Teams ----------------------------------------------------------------------------------------


def _name_taken() -> ValidationError:
    return ValidationError({"name": ValidationError("A team with this name exists.", code="team_name_taken")})


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": ValidationError("A team needs a name.", code="required")})
    return name


@transaction.atomic
def team_create(*, actor: Actor, name: str, description: str = "") -> Team:
    """A team and the auth group that carries its object permissions (D96)."""
    name = _clean_name(name)
    if Team.objects.filter(name__iexact=name).exists():
        raise _name_taken()
    group = Group.objects.create(name=f"team:{uuid.uuid4().hex}")
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name, description=description, group=group)
    except IntegrityError as exc:  # a concurrent create with the same name
        raise _name_taken() from exc
    audit_event_record(actor=actor, action="team.created", target_type="team", target_id=team.pk, data={"name": name})
    team.member_count = 0  # type: ignore[attr-defined]
    return team


@transaction.atomic
def team_update(*, actor: Actor, team: Team, name: str | None = None, description: str | None = None) -> Team:
    changed: list[str] = []
    if name is not None:
        name = _clean_name(name)
        if name != team.name:
            if Team.objects.filter(name__iexact=name).exclude(pk=team.pk).exists():
                raise _name_taken()
            team.name = name
            changed.append("name")
    if description is not None and description != team.description:
        team.description = description
        changed.append("description")
    if changed:
        team.save(update_fields=changed)
    audit_event_record(
        actor=actor, action="team.updated", target_type="team", target_id=team.pk, data={"fields": changed}
    )
    return team


@transaction.atomic
def team_delete(*, actor: Actor, team: Team) -> None:
    """The team, its places and its group; the group's project grants go with it (cascade)."""
    team_id, name, group = team.pk, team.name, team.group
    in_teams_forget(user_ids=list(TeamMember.objects.filter(team=team).values_list("user_id", flat=True)))
    team.delete()
    group.delete()
    audit_event_record(actor=actor, action="team.deleted", target_type="team", target_id=team_id, data={"name": name})


@transaction.atomic
def team_member_add(*, actor: Actor, tenant: Tenant, team: Team, user_id: int) -> TeamMember:
    membership = membership_for_user_id(tenant_id=tenant.pk, user_id=user_id)
    if membership is None:
        raise ValidationError({"user_id": ValidationError("No member with this id.", code="not_a_member")})
    if not team_member_allowed(role=membership.role):
        raise ValidationError(
            {"user_id": ValidationError("Billing members cannot join teams.", code="invalid_team_member")}
        )
    place, created = TeamMember.objects.get_or_create(team=team, user_id=user_id)
    in_teams_forget(user_ids=[user_id])
    if created:
        audit_event_record(
            actor=actor,
            action="team.member_added",
            target_type="team",
            target_id=team.pk,
            data={"user_id": user_id},
        )
    place.user = membership.user
    return place


@transaction.atomic
def team_member_remove(*, actor: Actor, team: Team, user_id: int) -> bool:
    """Takes effect on the caller's next request: visibility reads team places in SQL, never cached."""
    deleted, _ = TeamMember.objects.filter(team=team, user_id=user_id).delete()
    in_teams_forget(user_ids=[user_id])
    if deleted:
        audit_event_record(
            actor=actor,
            action="team.member_removed",
            target_type="team",
            target_id=team.pk,
            data={"user_id": user_id},
        )
    return bool(deleted)
