from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from shared_apps.accounts.models import User
from tenants.naming import validate_slug
from tenants.selectors import tenant_by_slug


class SignupForm(forms.Form):
    name = forms.CharField(max_length=200, label="Organization name")
    slug = forms.SlugField(
        max_length=40,
        label="Address",
        help_text="Lowercase letters, digits and hyphens; your portal will be at <slug>.<domain>.",
    )
    email = forms.EmailField(
        max_length=254, label="Your email", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        max_length=256,
        strip=False,
        help_text="At least 10 characters. If you already have an account, use its password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].lower()
        validate_slug(slug)
        if tenant_by_slug(slug=slug) is not None:  # early answer; provisioning checks again under a lock
            raise ValidationError("This slug is already taken.", code="slug_taken")
        return slug

    def clean(self) -> dict:
        data = super().clean() or {}
        # The same rules for every email, whether or not it has an account (the answer must not differ).
        email, password = data.get("email"), data.get("password")
        if email and password:
            try:
                validate_password(password, user=User(email=email))
            except ValidationError as exc:
                self.add_error("password", exc)
        return data
