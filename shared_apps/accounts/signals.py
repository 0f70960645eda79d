"""What the accounts layer announces, so that higher layers (billing) can react without accounts importing
them. Receivers subscribe in their AppConfig.ready."""

from django.dispatch import Signal

# Sent after the transaction that added or removed a membership commits (kwargs: tenant_id, change_id).
membership_changed = Signal()
