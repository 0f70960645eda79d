from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "tenant_apps.projects"
    label = "projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.outgoing.events import renderer_register
        from tenant_apps.projects import receivers  # noqa: F401  (membership removal -> grants cleared)
        from tenant_apps.projects.api.serializers import ProjectOutput, TaskOutput

        renderer_register("project", ProjectOutput)
        renderer_register("task", TaskOutput)
