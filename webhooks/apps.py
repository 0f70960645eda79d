from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants.base.observability import register_metrics
        from webhooks.metrics import collect_metrics

        register_metrics(collect_metrics)
