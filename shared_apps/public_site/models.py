"""Signups waiting for their email address to be confirmed (public schema)."""

from __future__ import annotations

from django.db import models


class PendingSignup(models.Model):
    """A new organization asked for with an email that has no account yet. It is created only once the
    link mailed to that address is followed, so the signup page answers the same for every email."""

    email = models.EmailField()
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=40)
    password_hash = models.CharField(max_length=256)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.slug} for {self.email}"


class SignupMail(models.Model):
    """One mail sent by the signup page (a confirmation link or an existing-account notice). Counted to
    cap how many such mails one address receives and one client IP can cause (decision D76)."""

    email = models.EmailField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["email", "sent_at"]), models.Index(fields=["ip", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.email} at {self.sent_at:%Y-%m-%d %H:%M}"
