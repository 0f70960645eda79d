"""django-tenants' backend with a search path that is safe behind a transaction-mode pooler.

`TENANT_SEARCH_PATH_MODE` (or a database's own `SEARCH_PATH_MODE` key) chooses how the tenant's
schema reaches PostgreSQL:

* ``"session"`` (default): django-tenants' behaviour, a session-level ``SET search_path`` issued once
  per connection and tenant switch (with TENANT_LIMIT_SET_CALLS). Correct when each Django
  connection owns its server connection (direct connections, pgbouncer in session mode).
* ``"transaction"``: nothing is ever set on the session. Every statement that starts a transaction
  carries ``SELECT pg_catalog.set_config('search_path', …, true)`` in the *same* simple-protocol
  query message, so the path is transaction-local and travels with the statement to whichever server
  connection the pooler hands out:

  - in autocommit, each statement is its own implicit transaction: every one gets the prefix (one
    message, no extra round trip);
  - inside ``atomic()``, the first statement of the transaction gets it, and again after a tenant
    switch or a rollback to a savepoint;
  - ``executemany`` in autocommit is wrapped in an explicit transaction that starts with set_config.

  Server-side (named) cursors cannot carry the prefix: set DISABLE_SERVER_SIDE_CURSORS = True for
  this mode (config/settings/production.py does).

In both modes the wrapper remembers which tenant schemas it has put on the search path since the
connection was opened (`tenant_schemas_used`, reset on every connect): tenants/conn_recycling.py closes
a connection that has used too many at a safe point, because PostgreSQL's catalog caches for every
schema a backend touched stay in that backend (D138).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql.base import Cursor as DjangoCursor
from django_tenants.postgresql_backend import base as tenants_base
from django_tenants.utils import quote_schema_name
from psycopg import pq

if TYPE_CHECKING:
    import psycopg

    _CursorBase = psycopg.ClientCursor[Any]
else:
    _CursorBase = DjangoCursor

SESSION = "session"
TRANSACTION = "transaction"
MODES = (SESSION, TRANSACTION)


def _prefix_sql(search_paths: list[str]) -> str:
    """`SELECT set_config('search_path', '"a", "public"', true)` for already-validated schema names."""
    value = ", ".join(quote_schema_name(s) for s in search_paths)
    # Validated names hold no quote or backslash; doubling quotes keeps the literal safe regardless.
    literal = "'" + value.replace("'", "''") + "'"
    return f"SELECT pg_catalog.set_config('search_path', {literal}, true)"


# Database-level statements that PostgreSQL refuses inside a transaction block (a prefixed message
# is one): they name no schema object, so they go out as they are.
_NOT_IN_A_TRANSACTION = re.compile(r"^\s*(CREATE|DROP)\s+DATABASE\b", re.IGNORECASE)


class TransactionSearchPathCursor(_CursorBase):
    """Client-side binding cursor that prepends the transaction-local search path when needed."""

    tenantry_wrapper: DatabaseWrapper | None = None

    def execute(self, query: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        wrapper = self.tenantry_wrapper
        prefix = wrapper._search_path_prefix_for(self.connection) if wrapper is not None else None
        if isinstance(query, str) and _NOT_IN_A_TRANSACTION.match(query):
            prefix = None
        if prefix is None or not isinstance(query, str | bytes):
            return super().execute(query, params, *args, **kwargs)
        if isinstance(query, bytes):
            query = query.decode()
        sent = prefix.replace("%", "%%") if params is not None else prefix
        result = super().execute(f"{sent}; {query}", params, *args, **kwargs)
        # Two results came back: set_config's row, then the statement's. Expose the statement's.
        self.nextset()
        assert wrapper is not None
        wrapper._search_path_applied(self.connection, prefix)
        return result

    def executemany(self, query: Any, params_seq: Any, *args: Any, **kwargs: Any) -> Any:
        wrapper = self.tenantry_wrapper
        if wrapper is None or wrapper._search_path_prefix_for(self.connection) is None:
            return super().executemany(query, params_seq, *args, **kwargs)
        if self.connection.autocommit:
            # Several statements in autocommit: make them one transaction that starts with the path.
            with self.connection.transaction():
                super().execute(wrapper._current_prefix())
                return super().executemany(query, params_seq, *args, **kwargs)
        prefix = wrapper._current_prefix()
        super().execute(prefix)
        wrapper._search_path_applied(self.connection, prefix)
        return super().executemany(query, params_seq, *args, **kwargs)


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mode = self.settings_dict.get("SEARCH_PATH_MODE") or getattr(settings, "TENANT_SEARCH_PATH_MODE", SESSION)
        if mode not in MODES:
            raise ImproperlyConfigured(f"TENANT_SEARCH_PATH_MODE must be one of {MODES}, not {mode!r}")
        self.search_path_mode: str = mode
        # The prefix applied in the server transaction currently open on this connection, if any.
        self._txn_prefix: str | None = None
        # Tenant schemas this connection has used since it was opened (tenants/conn_recycling.py).
        self.tenant_schemas_used: set[str] = set()

    @property
    def transaction_search_path(self) -> bool:
        return self.search_path_mode == TRANSACTION

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if self.transaction_search_path:
            if self.settings_dict["OPTIONS"].get("server_side_binding") is True:
                raise ImproperlyConfigured(
                    "TENANT_SEARCH_PATH_MODE='transaction' needs client-side binding (the default)"
                )
            params["cursor_factory"] = TransactionSearchPathCursor
        return params

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = super().create_cursor(name)
        if self.transaction_search_path and not name:
            cursor.tenantry_wrapper = self
        return cursor

    def connect(self) -> None:
        super().connect()
        self.tenant_schemas_used = set()  # a new server session: no catalog cached yet

    def _handle_search_path(self, cursor: Any = None) -> None:
        if not self.transaction_search_path:
            super()._handle_search_path(cursor)
        else:
            # Nothing goes to the session. Validate the schema and record it (the middleware reads
            # search_path_set_schemas to skip redundant tenant switches); statements carry the path.
            if not self.schema_name:
                raise ImproperlyConfigured("Database schema not set. Call set_schema() or set_tenant().")
            self.search_path_set_schemas = self._get_cursor_search_paths()
        if self.search_path_set_schemas and self.schema_name != settings.PUBLIC_SCHEMA_NAME:
            self.tenant_schemas_used.add(self.schema_name)

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        super().set_tenant(tenant, include_public)
        self._txn_prefix = None

    def savepoint_rollback(self, sid: str) -> None:
        super().savepoint_rollback(sid)
        # ROLLBACK TO SAVEPOINT undoes a set_config issued after the savepoint.
        self._txn_prefix = None

    def _current_prefix(self) -> str:
        return _prefix_sql(self._get_cursor_search_paths())

    def _search_path_prefix_for(self, pg_connection: Any) -> str | None:
        """The set_config statement to send with the next statement, or None if already in force."""
        if pg_connection.info.transaction_status == pq.TransactionStatus.IDLE:
            self._txn_prefix = None  # the next statement starts a new server transaction
        prefix = self._current_prefix()
        if self._txn_prefix == prefix:
            return None
        return prefix

    def _search_path_applied(self, pg_connection: Any, prefix: str) -> None:
        # In autocommit the transaction ended with the statement; inside one, the path now holds.
        status = pg_connection.info.transaction_status
        self._txn_prefix = prefix if status != pq.TransactionStatus.IDLE else None
