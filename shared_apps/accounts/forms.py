"""The sign-in form shared by the portal (tenant hosts) and the public host."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse

from shared_apps.accounts.models import User
from shared_apps.accounts.services import (
    InvalidCredentialsError,
    LoginThrottledError,
    OtpRequiredError,
    user_authenticate,
)


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        max_length=256, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    retry_after: int | None = None
    # Set when the password was right and the account has two-factor: the caller asks for the code next.
    otp_user: User | None = None

    def authenticated_user(self, *, request: HttpRequest, tenant_id: int | None = None) -> User | None:
        """The user these credentials sign in (on `tenant_id`'s host when given), or None with the error
        on the form. Lockout and the non-member rule: shared_apps.accounts.services.user_authenticate."""
        if not self.is_valid():
            return None
        try:
            return user_authenticate(
                request=request,
                email=self.cleaned_data["email"],
                password=self.cleaned_data["password"],
                tenant_id=tenant_id,
            )
        except LoginThrottledError as exc:
            self.retry_after = exc.retry_after
            self.add_error(None, exc)
        except InvalidCredentialsError as exc:
            self.add_error(None, exc)
        except OtpRequiredError as exc:
            self.otp_user = exc.user
        return None

    @property
    def status(self) -> int:
        """The HTTP status a page answering this (bound, failed) form should use."""
        return 429 if self.retry_after else 400

    def finish(self, response: HttpResponse) -> HttpResponse:
        """Add `Retry-After` to a 429 page."""
        if self.retry_after:
            response["Retry-After"] = str(self.retry_after)
        return response


class OtpForm(forms.Form):
    code = forms.CharField(
        max_length=64,
        label="Authentication code",
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
    )
