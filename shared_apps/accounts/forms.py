"""The sign-in form shared by the portal (tenant hosts) and the public host."""

from __future__ import annotations

from django import forms

from shared_apps.accounts.models import User
from shared_apps.accounts.services import InvalidCredentialsError, LoginThrottledError, user_authenticate


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        max_length=256, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    throttled = False

    def authenticated_user(self, *, ip: str) -> User | None:
        """The user these credentials belong to (throttled per email+IP), or None with the error on the form."""
        if not self.is_valid():
            return None
        try:
            return user_authenticate(email=self.cleaned_data["email"], password=self.cleaned_data["password"], ip=ip)
        except LoginThrottledError as exc:
            self.throttled = True
            self.add_error(None, exc)
        except InvalidCredentialsError as exc:
            self.add_error(None, exc)
        return None

    @property
    def status(self) -> int:
        """The HTTP status a page answering this (bound, failed) form should use."""
        return 429 if self.throttled else 400
