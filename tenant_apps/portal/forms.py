"""Portal forms: input shapes only. Rules live in the services they are handed to."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from shared_apps.accounts.models import Role
from shared_apps.accounts.policies import role_choices_grantable
from tenant_apps.projects.policies import PROJECT_PERMISSIONS
from tenant_apps.tokens.scopes import SCOPE_CHOICES
from tenants.base.api.scopes import ADMIN


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args: object, actor_role: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Offer only the roles this member may grant (accounts.policies). Any real role still validates
        # here, so a forged one reaches the service, which refuses it by the same rule with a clear message.
        self.fields["role"].widget.choices = role_choices_grantable(by=actor_role)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args: object, actor_role: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["role"].widget.choices = role_choices_grantable(by=actor_role)


class AcceptInvitationForm(forms.Form):
    """One form whether or not the invited email has an account (the page must not tell which)."""

    full_name = forms.CharField(max_length=200, required=False, label="Your name", help_text="For a new account.")
    password = forms.CharField(
        max_length=256,
        strip=False,
        help_text="Your Tenantry password if you already have an account with this email; otherwise choose one "
        "(at least 10 characters).",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    password_confirm = forms.CharField(
        max_length=256,
        strip=False,
        label="Password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    otp = forms.CharField(
        max_length=64,
        required=False,
        label="Two-factor code",
        help_text="Only if your existing account has two-factor authentication: the code from your app.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_confirm"):
            self.add_error("password_confirm", ValidationError("The two passwords differ.", code="password_mismatch"))
        return data


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
    scope = forms.ChoiceField(
        choices=SCOPE_CHOICES,
        initial=ADMIN,
        required=False,  # not sent: full access, as before scopes existed
        label="Access",
        help_text="A wider scope includes the narrower ones; a request outside it gets 403 insufficient_scope.",
    )


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=200, label="Organization name")


class CorsOriginsForm(forms.Form):
    origins = forms.CharField(
        required=False,
        max_length=6000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Allowed browser origins",
        help_text="One per line, e.g. https://app.example.com. Browsers on these origins may call this "
        "organization's API (CORS); any other origin gets no CORS headers.",
    )


class PlanForm(forms.Form):
    plan = forms.CharField(max_length=40)
