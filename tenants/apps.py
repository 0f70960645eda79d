from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import (
            cache_invalidation,  # noqa: F401  (connects cache invalidation receivers)
            conn_recycling,
            routing,
            shard_tasks,
            tasks,  # noqa: F401  (the task entry points in every process: services enqueue them by name, D87)
        )
        from tenants.base.observability import register_metrics
        from tenants.metrics import collect_metrics

        register_metrics(collect_metrics)
        routing.install()  # shards: atomic() pairing (tenants/routing.py)
        shard_tasks.connect_celery()  # shards: a task runs on its organization's shard
        conn_recycling.connect_signals()  # close connections that used many schemas (D138)
