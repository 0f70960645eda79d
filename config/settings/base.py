"""Settings shared by every environment. Everything secret or host-specific comes from the environment."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

from tenants.shard_config import shards_parse, weights_parse

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
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from /static/ (no CDN)
    "django_filters",
    "axes",  # sign-in failure counters, in public: users are global (shared_apps.accounts.lockout)
    "corsheaders",
    # TOTP devices live next to the global users (public schema); recovery codes: shared_apps.accounts.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "shared_apps.accounts",
    "shared_apps.public_site",
    "shared_apps.operators",  # operator tooling: admin of organizations, manage.py tenant (no models)
    # Public tables of the API plumbing: idempotency keys and CORS origins, by tenant id (D61, D65).
    "tenants.base.api",
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
    "tenant_apps.members",
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
    # POST /webhooks/stripe/ on the public host answers here, before the rest (webhooks/middleware.py).
    "webhooks.middleware.StripeWebhookFastPathMiddleware",
    "tenants.middleware.TenantResolutionMiddleware",
    "tenants.base.observability.RequestContextMiddleware",
    # A write caught by a move's last step becomes 503 + Retry-After (tenants/moves_gate.py).
    "tenants.moves_gate.MovedAwayMiddleware",
    # After tenant resolution (the allowed origins are the organization's own, D65).
    "corsheaders.middleware.CorsMiddleware",
    "billing.middleware.ApiUsageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shared_apps.accounts.middleware.SessionActivityMiddleware",
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
# More PostgreSQL clusters for tenant schemas (docs/scaling.md): TENANT_SHARDS=name=postgres://...,...
# adds one database alias per shard; the control database above stays the shard "default".
TENANT_SHARDS = shards_parse(env("TENANT_SHARDS", default=""))
TENANT_SHARD_WEIGHTS = weights_parse(env("TENANT_SHARD_WEIGHTS", default=""))
for _shard, _url in TENANT_SHARDS.items():
    DATABASES[_shard] = {
        **env.db_url_config(_url),
        "ENGINE": "tenants.db",
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
    }
# Close a connection (at the end of a request or task) once it has used more tenant schemas than this:
# each costs its PostgreSQL backend ~125 kB of catalog cache for good (tenants/conn_recycling.py). 0: off.
TENANT_CONN_MAX_SCHEMAS = env.int("TENANT_CONN_MAX_SCHEMAS", default=300)
DATABASE_ROUTERS = ["tenants.routing.ShardRouter", "django_tenants.routers.TenantSyncRouter"]
# Online moves (tenants/moves.py): how long a moved organization's old schema is kept, and how long
# a worker waits for a moving organization's paused writes before running its task anyway.
TENANT_MOVE_RETENTION_HOURS = env.int("TENANT_MOVE_RETENTION_HOURS", default=72)
TENANT_MOVE_TASK_WAIT_SECONDS = env.float("TENANT_MOVE_TASK_WAIT_SECONDS", default=30.0)
# Seconds between pausing a moving organization's writes and locking its tables (0: at once; writes
# of processes that have not seen the pause yet wait on the lock and get the same 503).
TENANT_MOVE_PAUSE_PROPAGATION_SECONDS = env.float("TENANT_MOVE_PAUSE_PROPAGATION_SECONDS", default=0.0)
# A pause older than this is over, whoever set it (a mover killed mid-pause must not hold an
# organization's writes until someone notices: D144). Far above a move's pause (~0.1-1 s).
TENANT_MOVE_PAUSE_MAX_SECONDS = env.float("TENANT_MOVE_PAUSE_MAX_SECONDS", default=60.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TENANT_MIGRATION_EXECUTOR = env("TENANT_MIGRATION_EXECUTOR", default="standard")

# --- Cache and broker ---------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:63799/0")
CACHES = {
    "default": {
        # Django's RedisCache with short timeouts and a circuit breaker (tenants.cache, tenants.base.redis).
        "BACKEND": "tenants.cache.ValkeyCache",
        "LOCATION": REDIS_URL,
        # Every cache key carries the active schema (see tenants.cache.make_key).
        "KEY_FUNCTION": "tenants.cache.make_key",
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="tenantry"),
    }
}
# Valkey on the request path (Django cache and tenants.base.redis.redis_client): nothing a request needs
# lives only there, so a stopped, unreachable or slow Valkey costs a request these timeouts at most
# once; then the circuit breaker skips Valkey for VALKEY_BREAKER_SECONDS (see docs/operations.md).
VALKEY_SOCKET_TIMEOUT_SECONDS = env.float("VALKEY_SOCKET_TIMEOUT_SECONDS", default=0.05)
VALKEY_CONNECT_TIMEOUT_SECONDS = env.float("VALKEY_CONNECT_TIMEOUT_SECONDS", default=0.05)
VALKEY_BREAKER_SECONDS = env.float("VALKEY_BREAKER_SECONDS", default=1.0)
# A fallback logs one warning per feature per interval (and counts every occurrence in /metrics).
VALKEY_DEGRADED_LOG_INTERVAL_SECONDS = env.float("VALKEY_DEGRADED_LOG_INTERVAL_SECONDS", default=60.0)
# While Valkey is unavailable, a host -> tenant entry is re-read from PostgreSQL after this long.
TENANT_RESOLUTION_FALLBACK_SECONDS = env.float("TENANT_RESOLUTION_FALLBACK_SECONDS", default=10.0)
# The longest an API token, membership or entitlements are served from a process's memory (D120);
# changes take effect on the next request through a per-organization generation in Valkey.
API_REQUEST_CACHE_SECONDS = env.float("API_REQUEST_CACHE_SECONDS", default=60.0)
# Usage counts a process keeps in memory while Valkey is unavailable (tenant-hours).
BILLING_USAGE_PENDING_MAX = env.int("BILLING_USAGE_PENDING_MAX", default=10_000)

# --- Identity -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Refuses any authenticate() for a locked-out account or IP (the operator admin's sign-in included).
    "axes.backends.AxesStandaloneBackend",
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
# Sign-in lockout (django-axes, counters in PostgreSQL; shared_apps.accounts.lockout, docs/decisions.md D42).
# Failures against one account from anywhere, and from one client IP against any account, each have a
# budget; past it every further failure doubles the wait (base .. max seconds). Failures are forgotten
# after LOGIN_LOCKOUT_MEMORY_HOURS or when the account signs in where it tried.
LOGIN_LOCKOUT_ACCOUNT_FAILURES = env.int("LOGIN_LOCKOUT_ACCOUNT_FAILURES", default=5)
LOGIN_LOCKOUT_IP_FAILURES = env.int("LOGIN_LOCKOUT_IP_FAILURES", default=30)
LOGIN_LOCKOUT_BASE_SECONDS = env.int("LOGIN_LOCKOUT_BASE_SECONDS", default=60)
LOGIN_LOCKOUT_MAX_SECONDS = env.int("LOGIN_LOCKOUT_MAX_SECONDS", default=3600)
LOGIN_LOCKOUT_MEMORY_HOURS = env.int("LOGIN_LOCKOUT_MEMORY_HOURS", default=24)
# Proxies in front of the app that append to X-Forwarded-For (0: trust only REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Mails the public signup page may send (confirmation links, existing-account notices): per address
# and per client IP within the window (shared_apps.public_site.services.signup_mail_budget_take).
SIGNUP_MAIL_WINDOW_HOURS = env.int("SIGNUP_MAIL_WINDOW_HOURS", default=1)
SIGNUP_MAILS_PER_ADDRESS = env.int("SIGNUP_MAILS_PER_ADDRESS", default=3)
SIGNUP_MAILS_PER_IP = env.int("SIGNUP_MAILS_PER_IP", default=20)
AXES_HANDLER = "shared_apps.accounts.lockout.LockoutHandler"
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_USERNAME_CALLABLE = "shared_apps.accounts.lockout.lockout_username"
AXES_CLIENT_IP_CALLABLE = "tenants.base.network.client_ip"
AXES_FAILURE_LIMIT = LOGIN_LOCKOUT_ACCOUNT_FAILURES
# How long a failure is remembered (the handler computes the growing waits inside this window).
AXES_COOLOFF_TIME = timedelta(hours=LOGIN_LOCKOUT_MEMORY_HOURS)
# Attempts refused during a lockout are not recorded, so the wait does not restart with each one.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = False  # accounts.services resets the account's own failures only
AXES_DISABLE_ACCESS_LOG = True
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "email", "password", "password_confirm"]
AXES_LOCKOUT_CALLABLE = None
# Each surface answers lockouts itself (API envelope, portal and public pages), so no AxesMiddleware.
SILENCED_SYSTEM_CHECKS = ["axes.W002"]
# Two-factor (django-otp TOTP; shared_apps.accounts.services, decisions D71).
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Tenantry")
# django-otp's own per-device throttle is off: wrong codes count in the sign-in lockout (D42) instead,
# per account and per IP with growing waits and one clear message.
OTP_TOTP_THROTTLE_FACTOR = 0
TWO_FACTOR_PENDING_SECONDS = env.int("TWO_FACTOR_PENDING_SECONDS", default=300)
# A session's "last seen" is written at most this often (shared_apps.accounts.middleware).
SESSION_ACTIVITY_WRITE_SECONDS = env.int("SESSION_ACTIVITY_WRITE_SECONDS", default=300)
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row per schema
GUARDIAN_MONKEY_PATCH_USER = False

# --- I18N / time --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves /static/ in every environment (runserver serves nothing with DEBUG off). Outside
# production it reads the apps' static folders directly on each request (no collectstatic needed);
# production.py serves the collected, hashed files instead.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# --- Content-Security-Policy (django-csp) on every HTML page ------------------------------------
# Scripts and styles come from our own /static/ only: no inline <script>, <style>, style="" or on*=.
# Swagger UI (/api/docs/) and ReDoc (/api/redoc/) come from drf-spectacular-sidecar's static files, with
# their start-up code as a script URL of their own (tenant_apps/api/urls.py): no page is excluded.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

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
# Broker faults (docs/operations.md, "Faults and recovery"; docs/decisions.md, D34 and D35):
# - a redis:// broker goes through config.celery.BrokerTransport, kombu's redis transport with the fix
#   for the worker exiting on a broker restart with tasks in flight;
# - the worker reconnects for as long as it takes (Celery gives up after 100 attempts, ~50 minutes),
#   trying every 1, 2, 3, then every BROKER_RECONNECT_MAX_SECONDS (Celery's own waits grow to 30 s, so
#   after a long outage the worker came back up to 30 s after the broker did).
CELERY_BROKER_TRANSPORT = "config.celery:BrokerTransport" if CELERY_BROKER_URL.startswith("redis://") else None
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CONSUMER = "config.celery:WorkerConsumer"
BROKER_RECONNECT_MAX_SECONDS = env.float("BROKER_RECONNECT_MAX_SECONDS", default=3.0)
# - a broker that stops answering without closing the connection (failover, a frozen host) fails a
#   publish in seconds instead of never (kombu waits for ever by default): the webhook is still
#   stored and acknowledged, and the sweeper sends it later.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}
# Webhook recovery (docs/operations.md, "Faults and recovery"): how often beat runs the sweeper, and
# the longest wait between retries of an event whose run found PostgreSQL unavailable.
WEBHOOK_SWEEP_INTERVAL_SECONDS = env.float("WEBHOOK_SWEEP_INTERVAL_SECONDS", default=5.0)
WEBHOOK_OUTAGE_RETRY_MAX_SECONDS = env.float("WEBHOOK_OUTAGE_RETRY_MAX_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "public-site-purge-signup-records": {"task": "public_site.purge_signup_records", "schedule": 3600.0},
    "tenants-refill-schema-pool": {"task": "tenants.refill_schema_pool", "schedule": 60.0},
    # Billing (see docs/billing.md).
    # Every few seconds: one indexed query when nothing is pending (see webhooks/services.py). Sweeps
    # queued while no worker ran expire instead of all running back to back when one returns.
    "webhooks-sweep-pending": {
        "task": "webhooks.sweep_pending",
        "schedule": WEBHOOK_SWEEP_INTERVAL_SECONDS,
        "options": {"expires": 3 * WEBHOOK_SWEEP_INTERVAL_SECONDS},
    },
    "billing-dunning": {"task": "billing.dunning_sweep", "schedule": 3600.0},
    "billing-report-usage": {"task": "billing.report_usage", "schedule": 900.0},
    "billing-reconcile": {"task": "billing.reconcile", "schedule": crontab(hour=3, minute=17)},
    # API idempotency keys older than 24 h (tenants/base/api/idempotency.py, D61).
    "api-idempotency-keys-expire": {"task": "api.idempotency_keys_expire", "schedule": 3600.0},
}

# Observability (tenants/base/observability.py): the worker heartbeat, task-failure counter and /metrics.
CELERY_IMPORTS = ["tenants.base.observability"]
CELERY_BEAT_SCHEDULE["observability-worker-heartbeat"] = {
    "task": "tenants.base.observability.worker_heartbeat",
    "schedule": 30.0,
}
# Every worker process writes a heartbeat this often (a thread started on worker_ready)...
WORKER_HEARTBEAT_INTERVAL_SECONDS = env.float("WORKER_HEARTBEAT_INTERVAL_SECONDS", default=3.0)
# ...and /healthz reports the worker as not ok once the newest one is older than this. Informational:
# a dead worker makes /healthz "degraded" (200), never 503.
WORKER_HEARTBEAT_MAX_AGE_SECONDS = env.float("WORKER_HEARTBEAT_MAX_AGE_SECONDS", default=12.0)
# The beat-scheduled heartbeat task (every 30 s) proves beat -> broker -> worker; "beat" check.
BEAT_HEARTBEAT_MAX_AGE_SECONDS = env.float("BEAT_HEARTBEAT_MAX_AGE_SECONDS", default=120.0)
# Bearer token for GET /metrics; empty disables the endpoint (404).
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    # drf-spectacular's, plus the conventions every API view gets (headers, scopes; D61-D64).
    "DEFAULT_SCHEMA_CLASS": "tenants.base.api.schema.ApiAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only; bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused with 413 before being read.
    "DEFAULT_PARSER_CLASSES": ["tenants.base.api.parsers.LimitedJSONParser"],
    # Tenant API (see docs/api.md): bearer token first, so 401s carry `WWW-Authenticate: Bearer`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenant_apps.tokens.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every view is members-only unless it says otherwise; non-members get 404.
    "DEFAULT_PERMISSION_CLASSES": ["shared_apps.accounts.permissions.IsTenantMember"],
    "DEFAULT_THROTTLE_CLASSES": [
        "tenants.base.api.throttles.CredentialRateThrottle",
        "tenants.base.api.throttles.TenantRateThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "tenants.base.api.pagination.ApiPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "tenants.base.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# CORS (django-cors-headers, D65): no origin is allowed globally; each organization lists its own
# (portal settings or PUT /api/v1/organization/cors-origins/), checked through the
# check_request_enabled signal (tenants/base/api/cors.py). Bearer tokens, not cookies: no credentials.
CORS_ALLOWED_ORIGINS: list[str] = []
CORS_URLS_REGEX = r"^/api/v1/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "x-request-id",
)
CORS_EXPOSE_HEADERS = (
    "ETag",
    "Idempotent-Replayed",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "X-Request-ID",
)
CORS_PREFLIGHT_MAX_AGE = 600
SPECTACULAR_SETTINGS = {
    "TITLE": "Tenantry API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Tenant-scoped JSON API. Call it on your organization's host. Authenticate with "
        "`Authorization: Bearer <token>` (from `POST /api/v1/auth/token/`) or the portal session. "
        'Every error is `{"error": {"code", "message", "fields"}}`.'
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from the sidecar's static files; no validator badge (it calls another origin).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Each organization has its own host (D61-D66 in docs/decisions.md; docs/api.md).
    "SERVERS": [
        {
            "url": "{scheme}://{organization}." + TENANT_BASE_DOMAIN + "{port}",
            "description": "Your organization's host.",
            "variables": {
                "scheme": {"default": "https", "enum": ["https", "http"]},
                "organization": {"default": "acme", "description": "Your organization's slug."},
                "port": {"default": "", "description": "Empty, or `:8000` for a local `make run`."},
            },
        }
    ],
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
    # Every record carries request_id, tenant, user_id, task_id, webhook_event_id (tenants.base.observability).
    "filters": {"context": {"()": "tenants.base.observability.ContextFilter"}},
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
