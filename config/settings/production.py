"""Production: everything from the environment, fail fast on what is missing, HTTPS everywhere.

Required: DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL, DJANGO_ALLOWED_HOSTS.
Optional: see docs/operations.md (TENANT_SEARCH_PATH_MODE, DB_CONN_MAX_AGE, METRICS_TOKEN, ...).
"""

import os

from django.core.exceptions import ImproperlyConfigured

REQUIRED_ENV = ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOWED_HOSTS")
_missing = [name for name in REQUIRED_ENV if not os.environ.get(name, "").strip()]
if _missing:
    raise ImproperlyConfigured(
        "Missing required environment variable(s) for production: "
        + ", ".join(_missing)
        + ". Set them in the environment (Kubernetes Secret/ConfigMap, compose env_file)."
    )

# Logs: JSON on stdout unless LOG_FORMAT says otherwise (read by base.LOGGING).
os.environ.setdefault("LOG_FORMAT", "json")

from .base import *  # noqa: E402, F403
from .base import DATABASES, TENANT_SEARCH_PATH_MODE, env  # noqa: E402

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
# Previous keys, still accepted for verification during a rotation (comma-separated).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS, behind a TLS-terminating load balancer/ingress --------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.bool("DJANGO_USE_X_FORWARDED_HOST", default=False)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Probes reach pods over plain HTTP by IP: never redirect them.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

# --- Database: pooler-aware -----------------------------------------------------------------------
# Behind pgbouncer in transaction mode set TENANT_SEARCH_PATH_MODE=transaction: the tenant's
# search_path then travels inside every transaction (tenants/db/base.py), never on the session.
for _alias in DATABASES:  # the control database and every shard (TENANT_SHARDS)
    DATABASES[_alias]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=300)
if TENANT_SEARCH_PATH_MODE == "transaction":
    # Named cursors cannot carry the per-transaction search path, and WITH HOLD cursors do not
    # survive a transaction-mode pooler.
    for _alias in DATABASES:  # every shard goes through its own pgbouncer pool (deploy/pgbouncer)
        DATABASES[_alias]["DISABLE_SERVER_SIDE_CURSORS"] = True

# --- Static files: collected into the image at build time, served by WhiteNoise (CDN-cacheable) --
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))  # noqa: F405
# (WhiteNoiseMiddleware is in base MIDDLEWARE; here it serves the collected files only.)
WHITENOISE_USE_FINDERS = False
WHITENOISE_AUTOREFRESH = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Tenantry <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Outgoing webhooks: https only, and never to loopback, whatever the environment says.
OUTGOING_WEBHOOKS_ALLOW_HTTP = False
OUTGOING_WEBHOOKS_ALLOW_LOOPBACK = False
