"""Cache keys carry the active schema, so one tenant can never read another tenant's cached values."""

from django.db import connection


def make_key(key: str, key_prefix: str, version: int | str) -> str:
    schema = getattr(connection, "schema_name", None) or "public"
    return f"{key_prefix}:{version}:{schema}:{key}"
