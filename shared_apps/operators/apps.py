from django.apps import AppConfig


class OperatorsConfig(AppConfig):
    """Platform operators' tooling on the public host: the Django admin of organizations and the
    `manage.py tenant`, `provision_tenant` and `seed_demo` commands. It sits above every other app."""

    name = "shared_apps.operators"
    label = "operators"
