"""The public schema's cache key, as resolution reads it without switching the connection's schema."""

import pytest
from django.core.cache import cache
from django_tenants.utils import schema_context

from tenants.cache import public_key

pytestmark = pytest.mark.django_db


def test_public_key_matches_make_key(tenant_a):
    with schema_context("public"):
        assert cache.make_key("x:y") == public_key("x:y")
    with schema_context(tenant_a.schema_name):
        assert cache.make_key("x:y") != public_key("x:y")
