from django.contrib import admin

from billing.models import BillingCustomer, DriftReport, Invoice, Plan, Subscription


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("code", "lookup_key", "stripe_price_id", "synced_at")


@admin.register(BillingCustomer)
class BillingCustomerAdmin(admin.ModelAdmin):
    list_display = ("tenant", "stripe_customer_id", "email", "delinquent", "created_at")
    search_fields = ("stripe_customer_id", "tenant__slug", "email")


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("stripe_subscription_id", "tenant", "status", "plan_code", "quantity", "current_period_end")
    list_filter = ("status", "plan_code")
    search_fields = ("stripe_subscription_id", "tenant__slug")


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ("number", "tenant", "status", "total", "amount_paid", "currency", "stripe_created")
    list_filter = ("status", "currency")
    search_fields = ("stripe_invoice_id", "number", "tenant__slug")


@admin.register(DriftReport)
class DriftReportAdmin(admin.ModelAdmin):
    list_display = ("started_at", "customers_checked", "drift_count", "repaired_count")
    readonly_fields = [f.name for f in DriftReport._meta.fields]
