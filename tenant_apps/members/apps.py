from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "tenant_apps.members"
    label = "members"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.members import receivers  # noqa: F401  (membership removal -> team cleanup)
        from tenant_apps.members.api.serializers import MemberOutput
        from tenant_apps.outgoing.events import renderer_register

        renderer_register("member", MemberOutput)
