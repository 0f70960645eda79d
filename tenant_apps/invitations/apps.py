from django.apps import AppConfig


class InvitationsConfig(AppConfig):
    name = "tenant_apps.invitations"
    label = "invitations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.invitations.api.serializers import InvitationOutput
        from tenant_apps.outgoing.events import renderer_register

        renderer_register("invitation", InvitationOutput)
