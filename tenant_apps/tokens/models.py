"""Personal API tokens (tenant schema): one user, one organization; only a hash of the secret is kept."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from tenant_apps.tokens.scopes import scopes_default


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    name = models.CharField(max_length=100, blank=True, default="")
    # Public, non-secret part of the token, used to find the row; the secret is only ever hashed.
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)  # sha256 hex of the whole token
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # What the token may do (tenant_apps/tokens/scopes.py). Tokens made before scopes keep full access.
    scopes = ArrayField(models.CharField(max_length=16), default=scopes_default)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.prefix}…"
