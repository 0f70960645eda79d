from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tenant_apps.tokens"
    label = "tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.tokens import cache_invalidation  # noqa: F401  (request cache receivers)
