"""Benchmark web server, tenancy on: the test settings with the bench URL conf for tenant hosts."""

from config.settings.test import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["*"]
DEBUG = False
