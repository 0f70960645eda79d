"""Settings shared by every environment. Everything secret or host-specific comes from the environment."""

from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", ".localhost", "127.0.0.1"])

# --- Apps ---------------------------------------------------------------------------------------
# Apps whose tables live in the public schema (global identity, tenants, billing, webhook inbox).
SHARED_APPS = [
    # "tenants" before "django_tenants": its migrate_schemas (the parallel orchestrator) wins.
    "tenants",
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "shared_apps.accounts",
    "shared_apps.public_site",
    "billing",
    "webhooks",
]
# Apps whose tables live in every tenant schema. contenttypes and auth are in both lists so content
# type ids and permissions are identical everywhere (guardian resolves them per schema).
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "guardian",
    "tenant_apps.projects",
    "tenant_apps.tokens",
    "tenant_apps.invitations",
    "tenant_apps.audit",
    "tenant_apps.portal",
    "tenant_apps.outgoing",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
TENANT_LIMIT_SET_CALLS = True
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
TENANT_SUBFOLDER_PREFIX = None
# Base domain: tenant <slug> answers at <slug>.<TENANT_BASE_DOMAIN>.
TENANT_BASE_DOMAIN = env("TENANT_BASE_DOMAIN", default="localhost")
# Spare, pre-migrated schemas kept ready so that provisioning never waits for migrations.
TENANT_POOL_SIZE = env.int("TENANT_POOL_SIZE", default=3)
# Resolution cache: how long a process trusts its local host -> tenant entry before checking the
# shared generation counter in the cache backend (seconds).
TENANT_RESOLUTION_RECHECK_SECONDS = env.float("TENANT_RESOLUTION_RECHECK_SECONDS", default=1.0)
# Build new schemas by copying an up-to-date tenant schema's structure (tenants/cloning.py) instead
# of running every migration; falls back to migrating when no schema qualifies.
TENANT_SCHEMA_CLONE = env.bool("TENANT_SCHEMA_CLONE", default=True)
# Days a closed tenant's data is kept before `purge` may drop its schema.
TENANT_RETENTION_DAYS = env.int("TENANT_RETENTION_DAYS", default=30)

MIDDLEWARE = [
    "tenants.middleware.TenantResolutionMiddleware",
    "tenants.observability.RequestContextMiddleware",
    "billing.middleware.ApiUsageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenant_apps.portal.context.portal",
            ],
        },
    },
]
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- Database -----------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:54329/tenantry"),
}
# django-tenants' backend plus a per-transaction search path for transaction-mode poolers (tenants/db).
DATABASES["default"]["ENGINE"] = "tenants.db"
# "session": SET search_path once per connection (direct connections, pgbouncer session mode).
# "transaction": set_config(..., true) inside every transaction (pgbouncer transaction mode).
TENANT_SEARCH_PATH_MODE = env("TENANT_SEARCH_PATH_MODE", default="session")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TENANT_MIGRATION_EXECUTOR = env("TENANT_MIGRATION_EXECUTOR", default="standard")

# --- Cache and broker ---------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:63799/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Every cache key carries the active schema (see tenants.cache.make_key).
        "KEY_FUNCTION": "tenants.cache.make_key",
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="tenantry"),
    }
}

# --- Identity -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed sign-ins allowed per (email, IP) within the window before sign-in is refused.
LOGIN_THROTTLE_ATTEMPTS = env.int("LOGIN_THROTTLE_ATTEMPTS", default=5)
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("LOGIN_THROTTLE_WINDOW_SECONDS", default=300)
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row per schema
GUARDIAN_MONKEY_PATCH_USER = False

# --- I18N / time --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1_048_576)

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "tenants-refill-schema-pool": {"task": "tenants.refill_schema_pool", "schedule": 60.0},
    # Billing (see docs/billing.md).
    "webhooks-sweep-pending": {"task": "webhooks.sweep_pending", "schedule": 60.0},
    "billing-dunning": {"task": "billing.dunning_sweep", "schedule": 3600.0},
    "billing-report-usage": {"task": "billing.report_usage", "schedule": 900.0},
    "billing-reconcile": {"task": "billing.reconcile", "schedule": crontab(hour=3, minute=17)},
}

# Observability (tenants/observability.py): the worker heartbeat, task-failure counter and /metrics.
CELERY_IMPORTS = ["tenants.observability"]
CELERY_BEAT_SCHEDULE["observability-worker-heartbeat"] = {
    "task": "tenants.observability.worker_heartbeat",
    "schedule": 30.0,
}
# /healthz reports the worker as "ok" when its heartbeat is at most this old (informational only).
WORKER_HEARTBEAT_MAX_AGE_SECONDS = env.int("WORKER_HEARTBEAT_MAX_AGE_SECONDS", default=120)
# Bearer token for GET /metrics; empty disables the endpoint (404).
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only; bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused with 413 before being read.
    "DEFAULT_PARSER_CLASSES": ["tenant_apps.api.parsers.LimitedJSONParser"],
    # Tenant API (see docs/api.md): bearer token first, so 401s carry `WWW-Authenticate: Bearer`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenant_apps.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every view is members-only unless it says otherwise; non-members get 404.
    "DEFAULT_PERMISSION_CLASSES": ["tenant_apps.api.permissions.IsTenantMember"],
    "DEFAULT_THROTTLE_CLASSES": [
        "tenant_apps.api.throttles.CredentialRateThrottle",
        "tenant_apps.api.throttles.TenantRateThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "tenant_apps.api.pagination.ApiPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "tenant_apps.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tenantry API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Tenant-scoped JSON API. Call it on your organization's host. Authenticate with "
        "`Authorization: Bearer <token>` (from `POST /api/v1/auth/token/`) or the portal session. "
        'Every error is `{"error": {"code", "message", "fields"}}`.'
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "tenant_apps.projects.models.TaskStatus",
        "InvitationStatusEnum": "tenant_apps.invitations.models.InvitationStatus",
        "RoleEnum": "shared_apps.accounts.models.Role",
    },
}

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every record carries request_id, tenant, user_id, task_id, webhook_event_id (tenants.observability).
    "filters": {"context": {"()": "tenants.observability.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(tenant)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env("LOG_FORMAT", default="plain"),  # "json" in production
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Hosts that serve the public site (signup, webhooks, operator admin) instead of a tenant.
TENANT_PUBLIC_HOSTS = env.list("TENANT_PUBLIC_HOSTS", default=["localhost", "127.0.0.1"])
TENANT_POOL_AUTO_REFILL = env.bool("TENANT_POOL_AUTO_REFILL", default=True)

# --- Outgoing webhooks (tenant_apps/outgoing; docs/api.md "Outgoing webhooks") -----------------
# Plain http endpoints (local development and tests only; production refuses them).
OUTGOING_WEBHOOKS_ALLOW_HTTP = env.bool("OUTGOING_WEBHOOKS_ALLOW_HTTP", default=False)
# Loopback targets (tests and local receivers only). Private, link-local, metadata, multicast and
# reserved addresses are always refused.
OUTGOING_WEBHOOKS_ALLOW_LOOPBACK = env.bool("OUTGOING_WEBHOOKS_ALLOW_LOOPBACK", default=False)
OUTGOING_WEBHOOKS_API_VERSION = "v1"
OUTGOING_WEBHOOKS_TIMEOUT_SECONDS = env.float("OUTGOING_WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
OUTGOING_WEBHOOKS_LEASE_MARGIN_SECONDS = env.int("OUTGOING_WEBHOOKS_LEASE_MARGIN_SECONDS", default=50)
OUTGOING_WEBHOOKS_MAX_RESPONSE_BYTES = env.int("OUTGOING_WEBHOOKS_MAX_RESPONSE_BYTES", default=65536)
OUTGOING_WEBHOOKS_RETRY_BASE_SECONDS = env.float("OUTGOING_WEBHOOKS_RETRY_BASE_SECONDS", default=30.0)
OUTGOING_WEBHOOKS_RETRY_MAX_SECONDS = env.float("OUTGOING_WEBHOOKS_RETRY_MAX_SECONDS", default=4 * 3600.0)
OUTGOING_WEBHOOKS_RETRY_WINDOW_SECONDS = env.int("OUTGOING_WEBHOOKS_RETRY_WINDOW_SECONDS", default=3 * 24 * 3600)
# Retries due within this many seconds are enqueued with a countdown; later ones wait for the sweeper.
OUTGOING_WEBHOOKS_COUNTDOWN_MAX_SECONDS = env.int("OUTGOING_WEBHOOKS_COUNTDOWN_MAX_SECONDS", default=300)
OUTGOING_WEBHOOKS_SWEEP_AFTER_SECONDS = env.int("OUTGOING_WEBHOOKS_SWEEP_AFTER_SECONDS", default=60)
OUTGOING_WEBHOOKS_ROTATION_OVERLAP_SECONDS = env.int("OUTGOING_WEBHOOKS_ROTATION_OVERLAP_SECONDS", default=24 * 3600)
OUTGOING_WEBHOOKS_ROTATION_MAX_OVERLAP_SECONDS = 7 * 24 * 3600
OUTGOING_WEBHOOKS_MAX_ENDPOINTS = env.int("OUTGOING_WEBHOOKS_MAX_ENDPOINTS", default=20)
# Queue of the delivery tasks (empty: Celery's default queue). A dedicated queue and worker keep slow
# receivers from delaying billing and other tasks.
OUTGOING_WEBHOOKS_QUEUE = env("OUTGOING_WEBHOOKS_QUEUE", default="") or None
OUTGOING_WEBHOOKS_RETENTION_DAYS = env.int("OUTGOING_WEBHOOKS_RETENTION_DAYS", default=30)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"],  # type: ignore[dict-item]
    "DeliveryStatusEnum": "tenant_apps.outgoing.models.DeliveryStatus",
}
CELERY_BEAT_SCHEDULE["outgoing-webhooks-sweep"] = {"task": "outgoing.sweep", "schedule": 30.0}
CELERY_BEAT_SCHEDULE["outgoing-webhooks-prune"] = {"task": "outgoing.prune", "schedule": crontab(hour=4, minute=41)}

# --- Integrations (one module each) ------------------------------------------------------------
from .stripe import *  # noqa: E402, F403
