"""Forms of the account, two-factor and sign-in second-step pages (input shapes only)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from shared_apps.accounts.forms import OtpForm

__all__ = ["OtpForm"]


class ProfileForm(forms.Form):
    full_name = forms.CharField(max_length=200, required=False, label="Name")


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(
        max_length=256, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    new_password = forms.CharField(
        max_length=256,
        strip=False,
        help_text="At least 10 characters. Your other sessions are signed out.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password_confirm = forms.CharField(
        max_length=256,
        strip=False,
        label="New password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("new_password") and data.get("new_password") != data.get("new_password_confirm"):
            self.add_error(
                "new_password_confirm", ValidationError("The two passwords differ.", code="password_mismatch")
            )
        return data


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        label="New email",
        help_text="We send a confirmation link to the new address; nothing changes until you follow it.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class EnrolForm(forms.Form):
    code = forms.CharField(
        max_length=12,
        label="Code from the app",
        help_text="Enter the 6-digit code your app shows to finish.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class DisableTwoFactorForm(forms.Form):
    password = forms.CharField(
        max_length=256,
        strip=False,
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TwoFactorPolicyForm(forms.Form):
    required = forms.BooleanField(required=False, label="Require two-factor authentication for every member")
