"""Test settings: real PostgreSQL and Redis (started by deploy/localstack.py), fast hashing."""

from .base import *  # noqa: F403
from .base import CACHES, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-only-not-a-secret")
# Argon2 stays the default hasher in production; tests use a cheap one so the suite stays fast.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES["default"]["KEY_PREFIX"] = env("CACHE_KEY_PREFIX", default="tenantry-test")
TENANT_POOL_SIZE = env.int("TENANT_POOL_SIZE", default=2)
CELERY_TASK_ALWAYS_EAGER = False
# Tests refill the pool explicitly (or through the real worker) instead of on every provisioning.
TENANT_POOL_AUTO_REFILL = False
# Billing: no Stripe customer is created on provisioning unless a test asks for it.
BILLING_CREATE_CUSTOMERS = False
# Outgoing webhooks to plain http on this machine (a local receiver); production refuses both.
OUTGOING_WEBHOOKS_ALLOW_HTTP = env.bool("OUTGOING_WEBHOOKS_ALLOW_HTTP", default=True)
OUTGOING_WEBHOOKS_ALLOW_LOOPBACK = env.bool("OUTGOING_WEBHOOKS_ALLOW_LOOPBACK", default=True)
# The suite's own Valkey is healthy, but a loaded CI machine can stall a process for more than the
# production 50 ms: a generous timeout keeps healthy-path tests from flapping into degraded mode. The
# degraded-mode tests set the production timeouts themselves (tests/tenancy/test_degraded_cache.py).
VALKEY_SOCKET_TIMEOUT_SECONDS = env.float("VALKEY_SOCKET_TIMEOUT_SECONDS", default=0.5)
VALKEY_CONNECT_TIMEOUT_SECONDS = env.float("VALKEY_CONNECT_TIMEOUT_SECONDS", default=0.5)
