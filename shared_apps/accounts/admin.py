"""Operator admin for people (email sign-in) and their memberships.

Membership writes go through the accounts services, so the last-owner rule holds and billed seats
follow (membership_add / membership_change_role / membership_remove).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from typing_extensions import override

from shared_apps.accounts.models import Membership, Role, User
from shared_apps.accounts.services import membership_add, membership_change_role, membership_remove


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("A person with this email already exists.", code="email_taken")
        return email


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("tenant", "role", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("tenant__slug",)

    @override
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # add memberships from the Memberships page (through membership_add)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("tenant")


def _is_last_owner_somewhere(user: User) -> bool:
    owned = Membership.objects.filter(user=user, role=Role.OWNER).values_list("tenant_id", flat=True)
    counts = (
        Membership.objects.filter(tenant_id__in=list(owned), role=Role.OWNER)
        .values("tenant_id")
        .annotate(n=Count("id"))
    )
    return any(row["n"] <= 1 for row in counts)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    list_display = ("email", "full_name", "organizations", "is_active", "is_staff", "is_superuser", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "memberships__role")
    search_fields = ("email", "full_name", "memberships__tenant__slug")
    ordering = ("email",)
    date_hierarchy = "date_joined"
    inlines = (MembershipInline,)
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        ("Platform access", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)
    filter_horizontal = ("groups", "user_permissions")
    actions = ()

    @override
    def get_inlines(self, request: HttpRequest, obj: User | None) -> tuple[type, ...]:
        return self.inlines if obj is not None else ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(organization_count=Count("memberships", distinct=True))

    @admin.display(description="organizations", ordering="organization_count")
    def organizations(self, obj: User) -> int:
        return obj.organization_count  # type: ignore[attr-defined]

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # Someone who is the only owner of an organization stays until ownership is handed over.
        if obj is not None and _is_last_owner_somewhere(obj):
            return False
        return super().has_delete_permission(request, obj)


class MembershipAddForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ("user", "tenant", "role")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role", "created_at")
    search_fields = ("user__email", "user__full_name", "tenant__slug", "tenant__name")
    list_select_related = ("user", "tenant")
    autocomplete_fields = ("user", "tenant")
    date_hierarchy = "created_at"
    ordering = ("tenant__slug", "user__email")
    actions = ("remove_selected",)

    @override
    def get_fields(self, request: HttpRequest, obj: Membership | None = None) -> Any:
        return ["user", "tenant", "role"] if obj is None else ["user", "tenant", "role", "created_at"]

    @override
    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        return [] if obj is None else ["user", "tenant", "created_at"]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced by remove_selected (keeps the last owner)
        return actions

    @override
    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if change:
            saved = membership_change_role(membership=obj, role=form.cleaned_data["role"])
        else:
            saved = membership_add(user=obj.user, tenant_id=obj.tenant_id, role=obj.role)
        obj.pk, obj.created_at = saved.pk, saved.created_at

    def has_delete_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        if (
            obj is not None
            and obj.role == Role.OWNER
            and Membership.objects.filter(tenant_id=obj.tenant_id, role=Role.OWNER).count() <= 1
        ):
            return False  # the last owner: make someone else owner first
        return super().has_delete_permission(request, obj)

    @override
    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(membership=obj)

    def _form_error(self, request: HttpRequest, exc: ValidationError) -> None:
        self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().changeform_view(request, *args, **kwargs)
        except ValidationError as exc:  # e.g. demoting the last owner
            self._form_error(request, exc)
            return HttpResponseRedirect(request.path)

    @admin.action(description="Remove selected memberships", permissions=["delete"])
    def remove_selected(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        removed, refused = 0, []
        for membership in queryset.select_related("user", "tenant"):
            try:
                membership_remove(membership=membership)
                removed += 1
            except ValidationError as exc:
                refused.append(f"{membership.user} in {membership.tenant} ({' '.join(exc.messages)})")
        if removed:
            self.message_user(request, f"Removed {removed} membership(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Kept: {'; '.join(refused)}", messages.ERROR)
