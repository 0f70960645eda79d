"""Teams in the portal: managed on the members page (owners and admins); a project is shared with a team
from its page, as with a person (issue #18). Same services as the API."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from shared_apps.accounts.policies import ADMIN_ROLES
from shared_apps.accounts.selectors import membership_list
from tenant_apps.members import policies as team_policies
from tenant_apps.members import selectors as team_selectors
from tenant_apps.members import services as team_services
from tenant_apps.members.models import Team
from tenant_apps.portal.access import portal_view
from tenant_apps.portal.forms import PERMISSION_CHOICES
from tenant_apps.portal.team_forms import TeamForm, TeamMemberForm, TeamShareForm
from tenant_apps.portal.views.common import actor, first_message, tenant_of
from tenant_apps.projects import policies, selectors, services
from tenants.base.request import tenant_request

PERMISSION_LABELS = dict(PERMISSION_CHOICES)


def _team_or_404(team_id: int) -> Team:
    team = team_selectors.team_get(team_id=team_id)
    if team is None:
        raise Http404
    return team


def team_member_choices(request: HttpRequest) -> list[tuple[int, str]]:
    return [
        (m.user_id, m.user.email)
        for m in membership_list(tenant_id=tenant_of(request).pk).order_by("user__email")
        if team_policies.team_member_allowed(role=m.role)
    ]


def teams_context(request: HttpRequest) -> dict[str, Any]:
    """The members page's teams section: each team with its people (two queries whatever the count)."""
    teams = list(team_selectors.team_list())
    people: dict[int, list[Any]] = {t.pk: [] for t in teams}
    for place in team_selectors.team_places():
        people.setdefault(place.team_id, []).append(place)
    for team in teams:
        team.people = people.get(team.pk, [])  # type: ignore[attr-defined]
    return {
        "teams": teams,
        "team_form": TeamForm(),
        "team_member_form": TeamMemberForm(members=team_member_choices(request)),
    }


@require_POST
@portal_view(roles=ADMIN_ROLES)
def team_create_view(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A team needs a name (up to 100 characters).")
        return HttpResponseRedirect("/members/")
    try:
        team = team_services.team_create(actor=actor(request), name=form.cleaned_data["name"])
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        messages.success(request, f"Team {team.name} created.")
    return HttpResponseRedirect("/members/")


@require_POST
@portal_view(roles=ADMIN_ROLES)
def team_delete_view(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(team_id)
    team_services.team_delete(actor=actor(request), team=team)
    messages.success(request, f"Team {team.name} deleted; its project grants went with it.")
    return HttpResponseRedirect("/members/")


@require_POST
@portal_view(roles=ADMIN_ROLES)
def team_member_add_view(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(team_id)
    form = TeamMemberForm(request.POST, members=team_member_choices(request))
    if not form.is_valid():
        messages.error(request, "Choose one of the listed members.")
        return HttpResponseRedirect("/members/")
    try:
        place = team_services.team_member_add(
            actor=actor(request), tenant=tenant_of(request), team=team, user_id=form.cleaned_data["user_id"]
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        messages.success(request, f"{place.user.email} is in {team.name}.")
    return HttpResponseRedirect("/members/")


@require_POST
@portal_view(roles=ADMIN_ROLES)
def team_member_remove_view(request: HttpRequest, team_id: int, user_id: int) -> HttpResponse:
    team = _team_or_404(team_id)
    if team_services.team_member_remove(actor=actor(request), team=team, user_id=user_id):
        messages.success(request, f"Removed from {team.name}.")
    else:
        messages.error(request, "Not in this team.")
    return HttpResponseRedirect("/members/")


# --- A project's sharing with teams ---------------------------------------------------------------


def team_share_context(project: Any) -> dict[str, Any]:
    teams = [(t.pk, t.name) for t in team_selectors.team_list()]
    grants = [
        {"team_id": team_id, "name": name, "codenames": [(c, PERMISSION_LABELS.get(c, c)) for c in codenames]}
        for team_id, name, codenames in selectors.project_team_grants(project=project)
    ]
    return {"team_grants": grants, "team_share_form": TeamShareForm(teams=teams) if teams else None}


def _back(project_id: int) -> HttpResponse:
    return HttpResponseRedirect(f"/projects/{project_id}/")


def _shareable(request: HttpRequest, project_id: int) -> Any:
    found = selectors.project_get_visible(
        user=request.user,  # type: ignore[arg-type]
        role=tenant_request(request).membership.role,
        project_id=project_id,
    )
    if found is None:
        raise Http404
    project, codenames = found
    if not policies.project_can_share(codenames=codenames):
        raise PermissionDenied
    return project


@require_POST
@portal_view()
def project_team_share_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _shareable(request, project_id)
    form = TeamShareForm(request.POST, teams=[(t.pk, t.name) for t in team_selectors.team_list()])
    if not form.is_valid():
        messages.error(request, "Choose a team and at least one permission.")
        return _back(project.pk)
    try:
        services.project_team_permission_grant(
            actor=actor(request),
            project=project,
            team_id=form.cleaned_data["team_id"],
            codenames=set(form.cleaned_data["permissions"]),
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        messages.success(request, "Permissions granted to the team.")
    return _back(project.pk)


@require_POST
@portal_view()
def project_team_revoke_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _shareable(request, project_id)
    try:
        team_id = int(request.POST.get("team_id", ""))
    except ValueError:
        messages.error(request, "Choose which team's permission to revoke.")
        return _back(project.pk)
    codename = request.POST.get("permission", "")
    revoke = {codename} if codename in policies.ALL_PROJECT_CODENAMES else set(policies.ALL_PROJECT_CODENAMES)
    try:
        removed = services.project_team_permission_revoke(
            actor=actor(request), project=project, team_id=team_id, codenames=revoke
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        messages.success(request, f"Revoked {removed} permission(s)." if removed else "Nothing to revoke.")
    return _back(project.pk)
