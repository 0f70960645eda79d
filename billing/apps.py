from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing import receivers
        from shared_apps.accounts.signals import membership_changed
        from tenants.signals import tenant_provisioned

        tenant_provisioned.connect(receivers.on_tenant_provisioned, dispatch_uid="billing.on_tenant_provisioned")
        membership_changed.connect(receivers.on_membership_changed, dispatch_uid="billing.on_membership_changed")
