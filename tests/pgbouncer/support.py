"""pgbouncer test helpers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connections

from tenants.db.base import DatabaseWrapper

POOL_SIZE = 2


@contextlib.contextmanager
def using_connection(wrapper: DatabaseWrapper) -> Iterator[DatabaseWrapper]:
    """Make `wrapper` this thread's default connection (ORM, atomic, test client) for the block."""
    previous = connections["default"]
    connections["default"] = wrapper
    try:
        yield wrapper
    finally:
        connections["default"] = previous
