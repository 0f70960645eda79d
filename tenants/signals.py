"""What the tenancy core announces, so that higher layers (billing) can react without the core importing
them. Receivers subscribe in their AppConfig.ready; the rule each follows lives in that layer's code."""

from django.dispatch import Signal

# Sent after the transaction that created an organization commits (kwargs: tenant_id).
tenant_provisioned = Signal()
