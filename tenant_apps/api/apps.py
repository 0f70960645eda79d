from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tenant_apps.api"
    label = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled

        from tenants.base.api.cors import cors_request_allowed

        check_request_enabled.connect(cors_request_allowed, dispatch_uid="tenants.base.api.cors")
