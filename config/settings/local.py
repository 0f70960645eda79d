"""Local development (`make run`)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-development-only-not-a-secret")
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# Outgoing webhooks to plain http on this machine (a local receiver); production refuses both.
OUTGOING_WEBHOOKS_ALLOW_HTTP = env.bool("OUTGOING_WEBHOOKS_ALLOW_HTTP", default=True)
OUTGOING_WEBHOOKS_ALLOW_LOOPBACK = env.bool("OUTGOING_WEBHOOKS_ALLOW_LOOPBACK", default=True)
