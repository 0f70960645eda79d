"""Billing mirror (public schema). Stripe is the source of truth; these rows are a fast local copy
for entitlements and reports, repaired from Stripe by reconciliation."""

from __future__ import annotations

from django.db import models


class Plan(models.Model):
    """A catalog plan (settings.BILLING_PLANS) with the Stripe ids `sync_plans` pulled back."""

    code = models.CharField(max_length=40, unique=True)
    lookup_key = models.CharField(max_length=120, unique=True)
    stripe_product_id = models.CharField(max_length=255, blank=True, default="")
    stripe_price_id = models.CharField(max_length=255, blank=True, default="")
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class BillingCustomer(models.Model):
    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="billing_customer")
    stripe_customer_id = models.CharField(max_length=255, unique=True)
    email = models.EmailField(blank=True, default="")
    name = models.CharField(max_length=255, blank=True, default="")
    delinquent = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.stripe_customer_id


class SubscriptionStatus(models.TextChoices):
    INCOMPLETE = "incomplete", "Incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired", "Incomplete, expired"
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    CANCELED = "canceled", "Canceled"
    UNPAID = "unpaid", "Unpaid"
    PAUSED = "paused", "Paused"


LIVE_SUBSCRIPTION_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.PAST_DUE)


class Subscription(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="subscriptions")
    customer = models.ForeignKey(BillingCustomer, on_delete=models.CASCADE, related_name="subscriptions")
    stripe_subscription_id = models.CharField(max_length=255, unique=True)
    stripe_item_id = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=24, choices=SubscriptionStatus.choices)
    plan_code = models.CharField(max_length=40, blank=True, default="")
    price_lookup_key = models.CharField(max_length=120, blank=True, default="")
    stripe_price_id = models.CharField(max_length=255, blank=True, default="")
    quantity = models.PositiveIntegerField(default=1)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    # When Stripe announced the trial's end (customer.subscription.trial_will_end, ~3 days before).
    trial_will_end_at = models.DateTimeField(null=True, blank=True)
    unit_amount = models.PositiveIntegerField(default=0)  # minor units, per seat per interval
    currency = models.CharField(max_length=3, blank=True, default="")
    # Stripe's `created` of the newest event applied (or the fetch time on reconciliation).
    stripe_updated = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "status"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.stripe_subscription_id}:{self.status}"


class SubscriptionRevision(models.Model):
    """The revenue-relevant state of a subscription from `effective_at` on, appended by
    billing.finance.services.subscription_revision_record whenever the mirror sees it change. The
    finance dashboard reads MRR at any past moment from here (Subscription holds only the present)."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="revisions")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    effective_at = models.DateTimeField()
    status = models.CharField(max_length=24, choices=SubscriptionStatus.choices)
    plan_code = models.CharField(max_length=40, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    quantity = models.PositiveIntegerField(default=1)
    unit_amount = models.PositiveIntegerField(default=0)  # minor units, per seat per interval
    interval = models.CharField(max_length=8, default="month")  # day | week | month | year
    interval_count = models.PositiveIntegerField(default=1)
    mrr = models.BigIntegerField(default=0)  # minor units per month; 0 unless active or past_due
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["subscription", "-effective_at", "-id"]),
            models.Index(fields=["effective_at"]),
        ]
        ordering = ["subscription_id", "effective_at", "id"]

    def __str__(self) -> str:
        return f"{self.subscription_id}@{self.effective_at:%Y-%m-%d}:{self.status}:{self.mrr}"


class Invoice(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="invoices")
    customer = models.ForeignKey(BillingCustomer, on_delete=models.CASCADE, related_name="invoices")
    stripe_invoice_id = models.CharField(max_length=255, unique=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, default="")
    number = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=24, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    amount_due = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    amount_remaining = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    hosted_invoice_url = models.URLField(max_length=1000, blank=True, default="")
    invoice_pdf = models.URLField(max_length=1000, blank=True, default="")
    attempt_count = models.PositiveIntegerField(default=0)
    # Set by invoice.payment_action_required while the invoice is open (the customer must authenticate
    # the payment on the hosted invoice page); cleared when the invoice is no longer open.
    action_required_at = models.DateTimeField(null=True, blank=True)
    stripe_created = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-stripe_created"]), models.Index(fields=["status"])]
        ordering = ["-stripe_created", "-id"]

    def __str__(self) -> str:
        return self.number or self.stripe_invoice_id


class DriftReport(models.Model):
    """One reconciliation run: every difference found between the mirror and Stripe, and what was repaired."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    customers_checked = models.PositiveIntegerField(default=0)
    drift_count = models.PositiveIntegerField(default=0)
    repaired_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)
    items = models.JSONField(default=list)  # [{"kind","stripe_id","tenant","field","mirror","stripe","repaired"}]

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"drift report {self.started_at:%Y-%m-%d %H:%M} ({self.drift_count})"
