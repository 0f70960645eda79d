"""Projects and who holds which permission on them (owners and admins)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from shared_apps.accounts.selectors import membership_list
from tenant_apps.portal import selectors
from tenant_apps.portal.access import ADMIN_ROLES, portal_view
from tenant_apps.portal.forms import PERMISSION_CHOICES, ShareForm
from tenant_apps.portal.views.common import actor, apply_errors, first_message, tenant_of
from tenant_apps.projects import services
from tenant_apps.projects.policies import ALL_PROJECT_CODENAMES, project_grantee_allowed
from tenant_apps.projects.selectors import project_get, project_permission_rows

PERMISSION_LABELS = dict(PERMISSION_CHOICES)


@require_GET
@portal_view(roles=ADMIN_ROLES)
def projects_view(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")[:200]
    page = Paginator(selectors.project_page(search=search), 50).get_page(request.GET.get("page"))
    sharing = selectors.project_sharing_for(project_ids=[p.pk for p in page.object_list])
    rows = [
        {
            "project": p,
            "people": [
                (email, [PERMISSION_LABELS.get(c, c) for c in codenames])
                for email, codenames in sharing.get(p.pk, {}).items()
            ],
        }
        for p in page.object_list
    ]
    return render(request, "portal/projects.html", {"rows": rows, "page": page, "q": search})


def _project_or_404(project_id: int):  # type: ignore[no-untyped-def]
    project = project_get(project_id=project_id)
    if project is None:
        raise Http404()
    return project


def _share_form(request: HttpRequest, data: object = None) -> ShareForm:
    members = [
        (m.user_id, m.user.email)
        for m in membership_list(tenant_id=tenant_of(request).pk).order_by("user__email")
        if project_grantee_allowed(role=m.role)
    ]
    return ShareForm(data, members=members)  # type: ignore[arg-type]


def _project_page(request: HttpRequest, project, form: ShareForm, status: int = 200) -> HttpResponse:  # type: ignore[no-untyped-def]
    grants: dict[int, dict] = {}
    for row in project_permission_rows(project=project):
        entry = grants.setdefault(row.user_id, {"email": row.user.email, "user_id": row.user_id, "codenames": []})
        entry["codenames"].append((row.permission.codename, PERMISSION_LABELS.get(row.permission.codename)))
    context = {"project": project, "grants": list(grants.values()), "form": form}
    return render(request, "portal/project_detail.html", context, status=status)


@require_GET
@portal_view(roles=ADMIN_ROLES)
def project_detail_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _project_or_404(project_id)
    return _project_page(request, project, _share_form(request))


@require_POST
@portal_view(roles=ADMIN_ROLES)
def project_share_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _project_or_404(project_id)
    form = _share_form(request, request.POST)
    if form.is_valid():
        try:
            services.project_permission_grant(
                actor=actor(request),
                tenant=tenant_of(request),
                project=project,
                user_id=form.cleaned_data["user_id"],
                codenames=set(form.cleaned_data["permissions"]),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Permissions granted.")
            return HttpResponseRedirect(f"/projects/{project.pk}/")
    return _project_page(request, project, form, status=400)


@require_POST
@portal_view(roles=ADMIN_ROLES)
def project_revoke_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _project_or_404(project_id)
    try:
        user_id = int(request.POST.get("user_id", ""))
    except ValueError:
        messages.error(request, "Choose whose permission to revoke.")
        return HttpResponseRedirect(f"/projects/{project.pk}/")
    codename = request.POST.get("permission", "")
    codenames = {codename} if codename in ALL_PROJECT_CODENAMES else set(ALL_PROJECT_CODENAMES)
    try:
        removed = services.project_permission_revoke(
            actor=actor(request), project=project, user_id=user_id, codenames=codenames
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        messages.success(request, f"Revoked {removed} permission(s)." if removed else "Nothing to revoke.")
    return HttpResponseRedirect(f"/projects/{project.pk}/")
