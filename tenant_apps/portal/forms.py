"""Portal forms: input shapes only. Rules live in the services they are handed to."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from shared_apps.accounts.models import Role
from tenant_apps.projects.policies import PROJECT_PERMISSIONS


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AcceptNewUserForm(forms.Form):
    full_name = forms.CharField(max_length=200, required=False, label="Your name")
    password = forms.CharField(
        max_length=256, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password_confirm = forms.CharField(
        max_length=256,
        strip=False,
        label="Password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_confirm"):
            self.add_error("password_confirm", ValidationError("The two passwords differ.", code="password_mismatch"))
        return data


class AcceptExistingUserForm(forms.Form):
    password = forms.CharField(
        max_length=256, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


PERMISSION_CHOICES = [(codename, name.title()) for name, codename in PROJECT_PERMISSIONS.items()]


class ShareForm(forms.Form):
    user_id = forms.TypedChoiceField(coerce=int, label="Member")
    permissions = forms.MultipleChoiceField(
        choices=PERMISSION_CHOICES, widget=forms.CheckboxSelectMultiple, initial=["view_project"]
    )

    def __init__(self, *args: object, members: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["user_id"].choices = members  # type: ignore[attr-defined]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="What the token is for.")
    expires_in_days = forms.TypedChoiceField(
        coerce=int,
        empty_value=None,
        required=False,
        label="Expires",
        choices=[("", "Never"), ("7", "In 7 days"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")],
    )


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=200, label="Organization name")


class PlanForm(forms.Form):
    plan = forms.CharField(max_length=40)
