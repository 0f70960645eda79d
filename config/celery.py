"""Celery app. tenant-schemas-celery stamps each message with the sender's schema and activates it
in the worker for the whole task run; `tenants.tasks.tenant_task` refuses to run tenant work in public."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = CeleryApp("tenantry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
