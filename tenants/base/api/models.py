"""API plumbing state in the public schema (D61, D65): stored idempotent responses and each
organization's allowed browser origins. Both rows carry the tenant id, so one periodic DELETE
expires every organization's keys and the CORS check needs no schema switch."""

from django.db import models


class IdempotencyKey(models.Model):
    """The first successful response to (organization, credential, key), replayed for 24 hours."""

    tenant_id = models.BigIntegerField()
    credential = models.CharField(max_length=64)  # "token:<id>" or "user:<id>" (a session)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and canonical body
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=2048)
    status = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=128, default="application/json")
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "credential", "key"], name="api_idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.credential}:{self.key}"


class CorsOrigin(models.Model):
    """One browser origin (`scheme://host[:port]`) allowed to call an organization's API."""

    tenant_id = models.BigIntegerField(db_index=True)
    origin = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["origin"]
        constraints = [models.UniqueConstraint(fields=["tenant_id", "origin"], name="api_cors_unique_origin")]

    def __str__(self) -> str:
        return self.origin
