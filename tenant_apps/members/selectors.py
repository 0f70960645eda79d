"""Member and team reads."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.cache import cache
from django.db.models import Count, QuerySet

from shared_apps.accounts.models import Membership
from shared_apps.accounts.selectors import membership_for_user_id, membership_list
from tenant_apps.members.models import Team, TeamMember
from tenants.base.observability import degraded
from tenants.base.redis import VALKEY_ERRORS

# "Is this member in any team here?", cached per organization (the key carries the schema) and user.
# Only the list query's shape depends on it (D104): a stale "no" can hide team grants until the entry
# is dropped (every team place change drops it) or expires; a stale "yes" costs nothing but speed.
IN_TEAMS_TTL_SECONDS = 60


def in_teams_key(*, user_id: int) -> str:
    return f"members-in-teams:{user_id}"


def member_list(*, tenant_id: int) -> QuerySet[Membership]:
    return membership_list(tenant_id=tenant_id)


def member_get(*, tenant_id: int, user_id: int) -> Membership | None:
    return membership_for_user_id(tenant_id=tenant_id, user_id=user_id)


def team_list() -> QuerySet[Team]:
    return Team.objects.annotate(member_count=Count("memberships")).order_by("name", "id")


def team_get(*, team_id: int) -> Team | None:
    return team_list().filter(pk=team_id).first()


def team_get_locked(*, team_id: int) -> Team | None:
    return Team.objects.select_for_update().filter(pk=team_id).first()


def team_member_list(*, team: Team) -> QuerySet[TeamMember]:
    return TeamMember.objects.filter(team=team).select_related("user").order_by("user__email")


def team_names_by_user() -> dict[int, list[str]]:
    """user id -> names of their teams (one query), for the members page."""
    names: dict[int, list[str]] = defaultdict(list)
    for user_id, name in TeamMember.objects.values_list("user_id", "team__name").order_by("team__name"):
        names[user_id].append(name)
    return dict(names)


def team_group_ids_of(*, user_id: int) -> QuerySet[TeamMember, Any]:
    """The auth group ids of `user_id`'s teams, as a subquery (`…group_id IN (SELECT …)`)."""
    return TeamMember.objects.filter(user_id=user_id).values("team__group_id")


def team_places() -> QuerySet[TeamMember]:
    """Every team place with its person (the members page shows all teams at once)."""
    return TeamMember.objects.select_related("user").order_by("team_id", "user__email")


def user_in_teams(*, user_id: int) -> bool:
    """Whether `user_id` is in a team of this organization: Valkey first (no query on a warm request),
    else one query whose answer is cached. Valkey unavailable: True (the query that also reads team
    grants is right either way)."""
    key = in_teams_key(user_id=user_id)
    try:
        cached = cache.get(key)
    except VALKEY_ERRORS as exc:
        degraded(component="cache", feature="members_in_teams", exc=exc)
        return True
    if cached is not None:
        return bool(cached)
    value = TeamMember.objects.filter(user_id=user_id).exists()
    try:
        cache.set(key, int(value), IN_TEAMS_TTL_SECONDS)
    except VALKEY_ERRORS as exc:
        degraded(component="cache", feature="members_in_teams", exc=exc)
    return value
