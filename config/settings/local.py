"""Local development (`make run`)."""

from typing import Any, cast

from .base import *  # noqa: F403
from .base import LOGGING, env

# Debug pages (URL lists, settings dumps) only when asked for: DJANGO_DEBUG=1 make run.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-development-only-not-a-secret")
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# The `make run` console: what a person needs. The Stripe SDK logs two INFO lines per call (the
# stand-in and the worker already show the calls), and runserver prints one line per request already.
cast(dict[str, Any], LOGGING["loggers"]).update(
    {"stripe": {"level": "WARNING"}, "tenantry.request": {"level": "WARNING"}}
)
# Outgoing webhooks to plain http on this machine (a local receiver); production refuses both.
OUTGOING_WEBHOOKS_ALLOW_HTTP = env.bool("OUTGOING_WEBHOOKS_ALLOW_HTTP", default=True)
OUTGOING_WEBHOOKS_ALLOW_LOOPBACK = env.bool("OUTGOING_WEBHOOKS_ALLOW_LOOPBACK", default=True)
