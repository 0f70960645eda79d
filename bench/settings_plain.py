"""Benchmark web server, tenancy off: plain Django on the same data, for `bench/tenancy_overhead.py`.

Same settings as bench.settings_http except: no tenant resolution middleware, Django's own
PostgreSQL backend, and the connection's search path fixed to one tenant schema (BENCH_SCHEMA) at
connect time, so the view runs the same query against the same table. (django-tenants stays
installed: its app check requires its router, which only matters to migrations.)
"""

from bench.settings_http import *  # noqa: F403
from bench.settings_http import DATABASES, MIDDLEWARE, env

DATABASES["default"] = {
    **DATABASES["default"],
    "ENGINE": "django.db.backends.postgresql",
    "OPTIONS": {"options": f"-c search_path={env('BENCH_SCHEMA', default='public')},public"},
}
MIDDLEWARE = [m for m in MIDDLEWARE if m != "tenants.middleware.TenantResolutionMiddleware"]
