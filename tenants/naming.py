"""Slug validation and schema-name generation. Schema names never come from user input."""

import re
import secrets

from django.core.exceptions import ValidationError

SLUG_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
SLUG_MIN, SLUG_MAX = 3, 40
RESERVED_SLUGS = frozenset(
    {
        "public",
        "www",
        "api",
        "admin",
        "static",
        "media",
        "app",
        "apps",
        "mail",
        "email",
        "smtp",
        "ftp",
        "webhooks",
        "webhook",
        "billing",
        "status",
        "help",
        "support",
        "docs",
        "blog",
        "login",
        "signup",
        "auth",
        "account",
        "accounts",
        "dashboard",
        "portal",
        "assets",
        "cdn",
        "internal",
        "system",
        "root",
        "template",
        "pg",
        "postgres",
        "information-schema",
        "healthz",
        "metrics",
        "stripe",
        "test",
        "localhost",
    }
)
SCHEMA_PREFIX = "t_"
SCHEMA_RE = re.compile(r"^t_[0-9a-f]{16}$")


def validate_slug(slug: str) -> str:
    """Return the slug if acceptable, else raise ValidationError with a machine-readable code."""
    if not isinstance(slug, str) or not slug:
        raise ValidationError("A slug is required.", code="slug_required")
    if not SLUG_MIN <= len(slug) <= SLUG_MAX:
        raise ValidationError(f"The slug must be {SLUG_MIN} to {SLUG_MAX} characters long.", code="slug_length")
    if not SLUG_RE.match(slug):
        raise ValidationError(
            "Use lowercase letters, digits and single hyphens; start with a letter.", code="slug_charset"
        )
    if slug in RESERVED_SLUGS or slug.startswith(("pg-", "xn--")):
        raise ValidationError("This slug is reserved.", code="slug_reserved")
    return slug


def generate_schema_name() -> str:
    """A fresh random schema name: `t_` + 16 hex characters (valid, unquoted PostgreSQL identifier)."""
    return f"{SCHEMA_PREFIX}{secrets.token_hex(8)}"
