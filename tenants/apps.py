from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import (
            cache_invalidation,  # noqa: F401  (connects cache invalidation receivers)
            routing,
        )
        from tenants.base.observability import register_metrics
        from tenants.metrics import collect_metrics

        register_metrics(collect_metrics)
        routing.install()  # shards: atomic() pairing and the Celery shard hooks (tenants/routing.py)
