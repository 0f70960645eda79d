from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tenant_apps.audit"
    label = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.audit import receivers
        from tenants.base.api.cors import cors_origins_changed

        cors_origins_changed.connect(receivers.on_cors_origins_changed, dispatch_uid="audit.cors_origins_changed")
