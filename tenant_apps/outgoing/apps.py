from django.apps import AppConfig


class OutgoingConfig(AppConfig):
    name = "tenant_apps.outgoing"
    label = "outgoing"
    verbose_name = "Outgoing webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.signals import plan_changed
        from tenant_apps.outgoing import (
            receivers,
            tasks,  # noqa: F401  (the task entry points in every process: services enqueue them by name, D87)
        )
        from tenants.base.observability import register_metrics

        plan_changed.connect(receivers.on_plan_changed, dispatch_uid="outgoing.plan_changed")
        register_metrics(receivers.collect_metrics)
