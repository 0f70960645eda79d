"""The default connection, typed as django-tenants' wrapper.

django-stubs types `django.db.connection` as a plain BaseDatabaseWrapper; django-tenants' backend adds
`schema_name`, `tenant`, `set_tenant()`, `set_schema_to_public()`. Import `connection` from here in
code that uses those.
"""

from typing import Any

from django.db import connection as _connection

connection: Any = _connection
