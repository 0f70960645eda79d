"""Local development (`make run`)."""

from .base import *  # noqa: F403
from .base import env

# Debug pages (URL lists, settings dumps) only when asked for: DJANGO_DEBUG=1 make run.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-development-only-not-a-secret")
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
