"""Password reset (Django's views, Django's token generator), served on tenant hosts and the public host."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, path

TEMPLATES = "portal/registration"


def password_reset_urls(*, base_template: str, login_url: str) -> list[URLPattern]:
    extra = {"base_template": base_template, "login_url": login_url}
    return [
        path(
            "password-reset/",
            auth_views.PasswordResetView.as_view(
                template_name=f"{TEMPLATES}/password_reset_form.html",
                # A plain-text body with an HTML alternative (templates/emails/password_reset/).
                email_template_name="emails/password_reset/body.txt",
                html_email_template_name="emails/password_reset/body.html",
                subject_template_name="emails/password_reset/subject.txt",
                success_url="/password-reset/sent/",
                extra_context=extra,
            ),
            name="password_reset",
        ),
        path(
            "password-reset/sent/",
            auth_views.PasswordResetDoneView.as_view(
                template_name=f"{TEMPLATES}/password_reset_done.html", extra_context=extra
            ),
            name="password_reset_done",
        ),
        path(
            "password-reset/<uidb64>/<token>/",
            auth_views.PasswordResetConfirmView.as_view(
                template_name=f"{TEMPLATES}/password_reset_confirm.html",
                success_url="/password-reset/done/",
                extra_context=extra,
            ),
            name="password_reset_confirm",
        ),
        path(
            "password-reset/done/",
            auth_views.PasswordResetCompleteView.as_view(
                template_name=f"{TEMPLATES}/password_reset_complete.html", extra_context=extra
            ),
            name="password_reset_complete",
        ),
    ]
