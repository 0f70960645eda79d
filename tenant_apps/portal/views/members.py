"""Members and invitations (owners and admins), and accepting an invitation (anyone with the link)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shared_apps.accounts.policies import ADMIN_ROLES, member_manageable, role_choices_grantable
from shared_apps.accounts.selectors import membership_for_user_id, membership_list, user_exists
from shared_apps.accounts.services import (
    InvalidCredentialsError,
    LoginThrottledError,
    OtpInvalidError,
    OtpRequiredError,
    user_authenticate,
)
from tenant_apps.invitations import selectors, services
from tenant_apps.invitations.models import InvitationStatus
from tenant_apps.members import services as member_services
from tenant_apps.portal.access import portal_login, portal_view, signed_in_member
from tenant_apps.portal.forms import AcceptInvitationForm, InviteForm, RoleForm
from tenant_apps.portal.views.common import actor, apply_errors, first_message, origin, tenant_of
from tenant_apps.portal.views.teams import teams_context
from tenants.base.request import tenant_request


def _actor_role(request: HttpRequest) -> str:
    return tenant_request(request).membership.role


def _members_page(request: HttpRequest, invite_form: InviteForm, status: int = 200) -> HttpResponse:
    tenant = tenant_of(request)
    members = list(membership_list(tenant_id=tenant.pk).order_by("user__email"))
    for m in members:
        m.manageable = member_manageable(by=_actor_role(request), target_role=m.role)  # type: ignore[attr-defined]
    context = {
        "members": members,
        "invitations": selectors.invitation_list().filter(status=InvitationStatus.PENDING),
        "invite_form": invite_form,
        "role_choices": role_choices_grantable(by=_actor_role(request)),
        **teams_context(request),
    }
    return render(request, "portal/members.html", context, status=status)


@require_GET
@portal_view(roles=ADMIN_ROLES)
def members_view(request: HttpRequest) -> HttpResponse:
    return _members_page(request, InviteForm(actor_role=_actor_role(request)))


@require_POST
@portal_view(roles=ADMIN_ROLES)
def invite_view(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST, actor_role=_actor_role(request))
    if form.is_valid():
        try:
            with transaction.atomic():
                invitation, _ = services.invitation_create(
                    actor=actor(request),
                    actor_role=_actor_role(request),
                    tenant=tenant_of(request),
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    base_url=origin(request),
                )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return HttpResponseRedirect("/members/")
    return _members_page(request, form, status=400)


def _member_or_404(request: HttpRequest, user_id: int):
    membership = membership_for_user_id(tenant_id=tenant_of(request).pk, user_id=user_id)
    if membership is None:
        raise Http404()
    return membership


@require_POST
@portal_view(roles=ADMIN_ROLES)
def member_role_view(request: HttpRequest, user_id: int) -> HttpResponse:
    membership = _member_or_404(request, user_id)
    form = RoleForm(request.POST, actor_role=_actor_role(request))
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
        return HttpResponseRedirect("/members/")
    try:
        member_services.member_change_role(
            actor=actor(request),
            actor_role=tenant_request(request).membership.role,
            membership=membership,
            role=form.cleaned_data["role"],
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        messages.success(request, f"{membership.user.email} is now {form.cleaned_data['role']}.")
    return HttpResponseRedirect("/members/")


@require_POST
@portal_view(roles=ADMIN_ROLES)
def member_remove_view(request: HttpRequest, user_id: int) -> HttpResponse:
    membership = _member_or_404(request, user_id)
    try:
        member_services.member_remove(
            actor=actor(request),
            actor_role=tenant_request(request).membership.role,
            membership=membership,
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
        return HttpResponseRedirect("/members/")
    messages.success(request, f"{membership.user.email} was removed.")
    if membership.user_id == request.user.pk:
        logout(request)
        return HttpResponseRedirect("/login/")
    return HttpResponseRedirect("/members/")


def _invitation_or_404(invitation_id: int):
    invitation = selectors.invitation_get(invitation_id=invitation_id)
    if invitation is None:
        raise Http404()
    return invitation


@require_POST
@portal_view(roles=ADMIN_ROLES)
def invitation_resend_view(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _invitation_or_404(invitation_id)
    try:
        invitation, _ = services.invitation_resend(
            actor=actor(request), tenant=tenant_of(request), invitation=invitation, base_url=origin(request)
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        messages.success(request, f"Invitation sent again to {invitation.email}; the previous link no longer works.")
    return HttpResponseRedirect("/members/")


@require_POST
@portal_view(roles=ADMIN_ROLES)
def invitation_revoke_view(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _invitation_or_404(invitation_id)
    try:
        services.invitation_revoke(actor=actor(request), invitation=invitation)
    except ValidationError as exc:
        messages.error(request, first_message(exc))
    else:
        messages.success(request, f"Invitation for {invitation.email} revoked.")
    return HttpResponseRedirect("/members/")


@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    """Open to anyone holding the link (which only the invited address receives). The same form whether
    or not that email has an account: an existing account joins only with its own password, a new
    person chooses one (services.invitation_accept)."""
    tenant = tenant_of(request)
    invitation = selectors.invitation_by_token(raw=token)
    if invitation is None:
        return render(request, "portal/invitation_invalid.html", status=404)
    if signed_in_member(request) is not None:
        # Already a member here, signed in: nothing to accept.
        return render(
            request, "portal/invitation_accept.html", {"invitation": invitation, "already_member": True}, status=200
        )
    form = AcceptInvitationForm(request.POST or None)
    status = 200
    retry_after = None
    if request.method == "POST":
        status = 400
        if form.is_valid():
            password = form.cleaned_data["password"]
            try:
                with transaction.atomic():
                    account = None
                    if user_exists(email=invitation.email):
                        account = user_authenticate(
                            request=request,
                            email=invitation.email,
                            password=password,
                            otp=form.cleaned_data.get("otp") or None,
                        )
                    membership = services.invitation_accept(
                        actor=actor(request),
                        tenant=tenant,
                        invitation=invitation,
                        password=password,
                        full_name=form.cleaned_data.get("full_name", ""),
                        account=account,
                    )
            except LoginThrottledError as exc:
                status, retry_after = 429, exc.retry_after
                form.add_error("password", exc)
            except InvalidCredentialsError:
                form.add_error("password", "This is not the password of the account with this email.")
            except (OtpRequiredError, OtpInvalidError) as exc:
                form.add_error("otp", exc)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                portal_login(request, membership.user)
                messages.success(request, f"Welcome to {tenant.name}!")
                return HttpResponseRedirect("/")
    context = {"invitation": invitation, "form": form, "already_member": False}
    response = render(request, "portal/invitation_accept.html", context, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response
