from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing import cache_invalidation, receivers  # noqa: F401  (cache_invalidation: request cache receivers)
        from billing.policies import tenant_ensure_writable
        from billing.selectors import entitlements_for_tenant
        from shared_apps.accounts.signals import membership_changed
        from tenants.base.api.tenant_policies import tenant_policies_register
        from tenants.signals import tenant_provisioned

        tenant_policies_register(entitlements=entitlements_for_tenant, ensure_writable=tenant_ensure_writable)

        tenant_provisioned.connect(receivers.on_tenant_provisioned, dispatch_uid="billing.on_tenant_provisioned")
        membership_changed.connect(receivers.on_membership_changed, dispatch_uid="billing.on_membership_changed")
