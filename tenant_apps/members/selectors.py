"""Member and team reads."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, QuerySet

from shared_apps.accounts.models import Membership
from shared_apps.accounts.selectors import membership_for_user_id, membership_list
from tenant_apps.members.models import Team, TeamMember


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
