"""Shard settings, and a single-cluster install left exactly as it was."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connections

from tenants.routing import ShardRouter, current_shard, shard_activate, shard_aliases, sharding_enabled
from tenants.shard_config import ShardConfigError, shards_parse, weights_parse

# Marked: pytest-django sets up the test database only when a collected test asks for it, and the
# other tests here commit into it (tests/shards/conftest.py).
pytestmark = pytest.mark.django_db


def test_shards_parse_names_and_urls() -> None:
    assert shards_parse("") == {}
    assert shards_parse(" s1=postgres://u@h1:5432/t , s2=postgresql://u@h2/t ") == {
        "s1": "postgres://u@h1:5432/t",
        "s2": "postgresql://u@h2/t",
    }


@pytest.mark.parametrize(
    "value",
    [
        "default=postgres://h/t",
        "control=postgres://h/t",
        "S1=postgres://h/t",
        "s1",
        "s1=mysql://h/t",
        "a=postgres://h/t,a=postgres://h/u",
    ],
)
def test_shards_parse_refuses_bad_entries(value: str) -> None:
    with pytest.raises(ShardConfigError):
        shards_parse(value)


def test_weights_parse() -> None:
    assert weights_parse("default=1,s1=2.5,s2=0") == {"default": 1.0, "s1": 2.5, "s2": 0.0}
    with pytest.raises(ShardConfigError):
        weights_parse("s1=-1")
    with pytest.raises(ShardConfigError):
        weights_parse("s1=lots")


def test_single_cluster_routes_nothing_and_swaps_nothing(tenant_a) -> None:
    # The suite itself runs without TENANT_SHARDS (the shard tests register theirs for their own use).
    if sharding_enabled():
        pytest.fail("TENANT_SHARDS is set for the whole suite; the single-cluster check cannot run")
    assert shard_aliases() == ["default"]
    assert tenant_a.shard == "default"
    router = ShardRouter()
    assert router.db_for_read(type(tenant_a)) is None
    assert router.db_for_write(type(tenant_a)) is None
    assert router.allow_relation(tenant_a, tenant_a) is None
    real = connections["default"]
    with shard_activate("default"):
        assert connections["default"] is real
        assert current_shard() == "default"
    with pytest.raises(LookupError), shard_activate("nowhere"):
        pass
    assert settings.DATABASE_ROUTERS[0] == "tenants.routing.ShardRouter"
