from django.apps import AppConfig


class PublicSiteConfig(AppConfig):
    name = "shared_apps.public_site"
    label = "public_site"
    verbose_name = "Public site: landing, signup, sign-in"
