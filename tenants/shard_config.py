"""Parsing of the shard settings (imported by config/settings: no Django imports here).

    TENANT_SHARDS=shard1=postgres://user@host1:5432/tenantry,shard2=postgres://user@host2:5432/tenantry
    TENANT_SHARD_WEIGHTS=default=1,shard1=2,shard2=2      # optional; 0 = take no new organizations

The control database (the `default` alias, DATABASE_URL) is always a shard itself, named "default".
Each entry of TENANT_SHARDS becomes one more Django database alias of the same name.
"""

from __future__ import annotations

import re

DEFAULT_SHARD = "default"
# The alias under which the control database is reachable while a request runs on another shard
# (tenants.routing): never configured in DATABASES by hand.
CONTROL_ALIAS = "control"
SHARD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
RESERVED = frozenset({DEFAULT_SHARD, CONTROL_ALIAS})


class ShardConfigError(ValueError):
    pass


def shards_parse(value: str) -> dict[str, str]:
    """`name=url,name=url` -> {name: url}; names are checked, duplicates and reserved names refused."""
    shards: dict[str, str] = {}
    for raw in (value or "").split(","):
        item = raw.strip()
        if not item:
            continue
        name, sep, url = item.partition("=")
        name, url = name.strip(), url.strip()
        if not sep or not url:
            raise ShardConfigError(f"TENANT_SHARDS entry {name!r} has no URL (expected name=postgres://...)")
        if not SHARD_NAME_RE.match(name) or name in RESERVED:
            raise ShardConfigError(f"TENANT_SHARDS: {name!r} is not a valid shard name")
        if name in shards:
            raise ShardConfigError(f"TENANT_SHARDS: {name!r} is listed twice")
        if not url.startswith(("postgres://", "postgresql://")):
            raise ShardConfigError(f"TENANT_SHARDS: the URL of {name!r} is not a postgres:// URL")
        shards[name] = url
    return shards


def weights_parse(value: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for raw in (value or "").split(","):
        item = raw.strip()
        if not item:
            continue
        name, _, number = item.partition("=")
        try:
            weight = float(number)
        except ValueError as exc:
            raise ShardConfigError(f"TENANT_SHARD_WEIGHTS: {item!r} is not name=number") from exc
        if weight < 0:
            raise ShardConfigError(f"TENANT_SHARD_WEIGHTS: {name!r} has a negative weight")
        weights[name.strip()] = weight
    return weights
