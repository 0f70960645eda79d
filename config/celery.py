"""Celery app. tenant-schemas-celery stamps each message with the sender's schema and activates it
in the worker for the whole task run; `tenants.tasks.tenant_task` refuses to run tenant work in public."""

import os

from celery.signals import task_prerun
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = CeleryApp("tenantry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Keep a worker's database connection across tasks. Celery's Django fix-up otherwise closes it after
# every task, so each task (each webhook event) paid for a new PostgreSQL connection: 8 ms of server
# CPU, the largest cost in bench/webhook_ingest. The fix-up still recycles it every
# 2 x CELERY_DB_REUSE_MAX tasks, and before each task Django drops a connection that is broken or
# older than CONN_MAX_AGE. django-tenants sets the task's schema on the connection for every task.
app.conf["CELERY_DB_REUSE_MAX"] = int(os.environ.get("CELERY_DB_REUSE_MAX", "500"))


@task_prerun.connect(weak=False)
def _drop_stale_db_connections(task: object = None, **_: object) -> None:
    # Not for tasks run eagerly (inline, in the caller's transaction), as Celery's own fix-up does.
    if getattr(getattr(task, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
