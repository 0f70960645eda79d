from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The task entry points in every process (web too): services enqueue them by name (D87).
        from tenants.base.observability import register_metrics
        from webhooks import tasks  # noqa: F401
        from webhooks.metrics import collect_metrics

        register_metrics(collect_metrics)
