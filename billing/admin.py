"""Operator admin for the billing mirror. Stripe is the source of truth: these pages are read-only
(the mirror is repaired by webhooks and `reconcile_billing`, the catalog by `sync_plans`)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from typing_extensions import override

from billing.models import BillingCustomer, DriftReport, Invoice, Plan, Subscription


def _organization(obj: Any) -> str:
    tenant = obj.tenant
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    return format_html('<a href="{}">{}</a>', url, tenant.slug)


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}".strip()


class ReadOnlyAdmin(admin.ModelAdmin):
    """View-only for every operator: list, search, filters and detail pages."""

    @override
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @override
    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @override
    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = ("code", "lookup_key", "stripe_product_id", "stripe_price_id", "synced_at")
    search_fields = ("code", "lookup_key", "stripe_price_id")


@admin.register(BillingCustomer)
class BillingCustomerAdmin(ReadOnlyAdmin):
    list_display = ("stripe_customer_id", "organization", "email", "delinquent", "created_at")
    list_filter = ("delinquent",)
    search_fields = ("stripe_customer_id", "tenant__slug", "tenant__name", "email")
    list_select_related = ("tenant",)

    @admin.display(description="organization", ordering="tenant__slug")
    def organization(self, obj: BillingCustomer) -> str:
        return _organization(obj)


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = (
        "stripe_subscription_id",
        "organization",
        "status",
        "plan_code",
        "quantity",
        "price",
        "current_period_end",
        "cancel_at_period_end",
    )
    list_filter = ("status", "plan_code", "cancel_at_period_end")
    search_fields = ("stripe_subscription_id", "tenant__slug", "tenant__name", "customer__stripe_customer_id")
    list_select_related = ("tenant",)
    date_hierarchy = "created_at"

    @admin.display(description="organization", ordering="tenant__slug")
    def organization(self, obj: Subscription) -> str:
        return _organization(obj)

    @admin.display(description="per seat")
    def price(self, obj: Subscription) -> str:
        return _money(obj.unit_amount, obj.currency)


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "organization", "status", "amount_total", "amount_paid_", "refunded", "stripe_created")
    list_filter = ("status", "currency")
    search_fields = ("stripe_invoice_id", "number", "stripe_subscription_id", "tenant__slug", "tenant__name")
    list_select_related = ("tenant",)
    date_hierarchy = "stripe_created"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # Stripe's hosted pages are https

    @admin.display(description="invoice", ordering="number")
    def invoice(self, obj: Invoice) -> str:
        return obj.number or obj.stripe_invoice_id

    @admin.display(description="organization", ordering="tenant__slug")
    def organization(self, obj: Invoice) -> str:
        return _organization(obj)

    @admin.display(description="total", ordering="total")
    def amount_total(self, obj: Invoice) -> str:
        return _money(obj.total, obj.currency)

    @admin.display(description="paid", ordering="amount_paid")
    def amount_paid_(self, obj: Invoice) -> str:
        return _money(obj.amount_paid, obj.currency)

    @admin.display(description="refunded", ordering="amount_refunded")
    def refunded(self, obj: Invoice) -> str:
        return _money(obj.amount_refunded, obj.currency) if obj.amount_refunded else "-"


@admin.register(DriftReport)
class DriftReportAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "finished_at", "customers_checked", "drift_count", "repaired_count", "error_count")
    date_hierarchy = "started_at"
    fields = ("started_at", "finished_at", "customers_checked", "drift_count", "repaired_count", "drift", "errors")
    readonly_fields = fields

    @admin.display(description="errors")
    def error_count(self, obj: DriftReport) -> int:
        return len(obj.errors or [])

    @admin.display(description="drift found")
    def drift(self, obj: DriftReport) -> str:
        items = obj.items or []
        if not items:
            return "none"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    i.get("kind"),
                    i.get("tenant"),
                    i.get("stripe_id"),
                    i.get("field"),
                    repr(i.get("mirror")),
                    repr(i.get("stripe")),
                    "yes" if i.get("repaired") else "no",
                )
                for i in items
            ),
        )
        return format_html(
            "<table><thead><tr><th>kind</th><th>organization</th><th>Stripe id</th><th>field</th><th>mirror</th>"
            "<th>Stripe</th><th>repaired</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )
