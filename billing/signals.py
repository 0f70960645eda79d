"""Signals billing sends so that higher layers can react without billing importing them."""

from django.dispatch import Signal

# Sent inside the transaction that changes a tenant's effective plan (kwargs: tenant, old_plan, new_plan).
plan_changed = Signal()
