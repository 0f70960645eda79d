"""Database backend: django-tenants' PostgreSQL backend, plus a per-transaction search path mode for
connection poolers in transaction mode (pgbouncer). Enable with ENGINE = "tenants.db"."""
