"""Operator admin for organizations (public host only; see config/urls_public.py).

Organizations are never added or deleted here: they are provisioned (signup, `provision_tenant`) and
closed/purged through the lifecycle. The list shows plan, members and billed seats in one query; the
change page shows domains (editable), members, the billing mirror and recent audit-worthy facts, each
capped so that a big organization's page stays a handful of queries.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from typing_extensions import override

from billing.models import BillingCustomer, Invoice, Subscription
from billing.organizations import organization_plan, organizations_annotate
from billing.selectors import entitlements_for_tenant, subscription_for_tenant
from shared_apps.accounts.models import Membership
from shared_apps.operators.services import organization_lifecycle_change
from tenants.models import Domain, SpareSchema, Tenant, TenantMigrationResult, TenantMigrationRun
from tenants.services import tenant_rename

# Rows shown inline on an organization's page; the rest are one click away in the filtered list.
PAGE_ROWS = 20


def _changelist_link(model: type[Model], label: str, **filters: int | str) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), label)


def _change_link(obj: Any, label: object = None) -> str:
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label if label is not None else obj)


def money(amount: int | None, currency: str) -> str:
    """Minor units to "12.00 USD" (every currency the catalog uses has two decimals)."""
    if amount is None:
        return "-"
    return f"{amount / 100:,.2f} {currency.upper()}".strip()


class PlanFilter(admin.SimpleListFilter):
    title = "plan"
    parameter_name = "plan"

    @override
    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, str(spec.get("name", code))) for code, spec in settings.BILLING_PLANS.items()]

    @override
    def queryset(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> QuerySet[Tenant]:
        code = self.value()
        if not code:
            return queryset
        known = list(settings.BILLING_PLANS)
        if code == settings.BILLING_DEFAULT_PLAN:
            # The default plan: no live subscription, or one whose plan the catalog does not know.
            return queryset.filter(
                Q(live_plan_code__isnull=True) | Q(live_plan_code=code) | ~Q(live_plan_code__in=known)
            )
        return queryset.filter(live_plan_code=code)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ("domain", "is_primary")


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "status", "plan", "members", "seats_billed", "primary_domain", "created_at")
    list_display_links = ("slug", "name")
    list_filter = ("status", PlanFilter, "created_at")
    search_fields = ("slug", "name", "schema_name", "domains__domain", "billing_customer__stripe_customer_id")
    date_hierarchy = "created_at"
    ordering = ("slug",)
    list_per_page = 50
    actions = ("suspend_selected", "reactivate_selected", "close_selected")
    inlines = (DomainInline,)
    fieldsets = (
        (None, {"fields": ("name", "slug", "status", "plan_and_seats", "schema_name")}),
        ("Members", {"fields": ("members_table",)}),
        (
            "Billing mirror (from Stripe)",
            {"fields": ("billing_customer_link", "subscriptions_table", "invoices_table")},
        ),
        ("Dates", {"fields": ("created_at", "updated_at", "status_changed_at", "closed_at")}),
    )
    readonly_fields = (
        "slug",
        "status",
        "plan_and_seats",
        "schema_name",
        "members_table",
        "billing_customer_link",
        "subscriptions_table",
        "invoices_table",
        "created_at",
        "updated_at",
        "status_changed_at",
        "closed_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        qs = super().get_queryset(request).exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        return organizations_annotate(qs).prefetch_related("domains")

    # --- list columns ---------------------------------------------------------------------------

    @admin.display(description="plan", ordering="live_plan_code")
    def plan(self, obj: Tenant) -> str:
        return organization_plan(obj)

    @admin.display(description="members", ordering="member_count")
    def members(self, obj: Tenant) -> str:
        return _changelist_link(Membership, str(obj.member_count), tenant__id__exact=obj.pk)

    @admin.display(description="billed seats", ordering="billed_seats")
    def seats_billed(self, obj: Tenant) -> object:
        return obj.billed_seats if obj.billed_seats is not None else "-"

    @admin.display(description="primary domain")
    def primary_domain(self, obj: Tenant) -> str:
        primary = next((d.domain for d in obj.domains.all() if d.is_primary), "")
        return primary or "-"

    # --- change page ----------------------------------------------------------------------------

    @admin.display(description="plan and seats")
    def plan_and_seats(self, obj: Tenant) -> str:
        ent = entitlements_for_tenant(tenant=obj)
        sub = subscription_for_tenant(tenant=obj)
        limit = "unlimited" if ent.seats is None else str(ent.seats)
        billed = f", {sub.quantity} billed ({sub.status})" if sub is not None else ", no live subscription"
        read_only = " — read-only" if ent.read_only else ""
        return f"{ent.plan}: {obj.member_count} member(s) of {limit} seat(s){billed}{read_only}"

    @admin.display(description="members")
    def members_table(self, obj: Tenant) -> str:
        rows = Membership.objects.filter(tenant=obj).select_related("user").order_by("created_at")[:PAGE_ROWS]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((_change_link(m.user), m.get_role_display(), f"{m.created_at:%Y-%m-%d}") for m in rows),
        )
        more = _changelist_link(Membership, f"all {obj.member_count} →", tenant__id__exact=obj.pk)
        return format_html(
            "<table><thead><tr><th>person</th><th>role</th><th>joined</th></tr></thead><tbody>{}</tbody></table>{}",
            body,
            more,
        )

    @admin.display(description="Stripe customer")
    def billing_customer_link(self, obj: Tenant) -> str:
        customer = BillingCustomer.objects.filter(tenant=obj).first()
        if customer is None:
            return "none yet (created on provisioning, or by reconcile_billing)"
        delinquent = " (delinquent)" if customer.delinquent else ""
        return format_html("{}{}", _change_link(customer, customer.stripe_customer_id), delinquent)

    @admin.display(description="subscriptions")
    def subscriptions_table(self, obj: Tenant) -> str:
        subs = Subscription.objects.filter(tenant=obj).order_by("-created_at")[:PAGE_ROWS]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _change_link(s, s.stripe_subscription_id),
                    s.status,
                    s.plan_code or "-",
                    s.quantity,
                    f"{s.current_period_end:%Y-%m-%d}" if s.current_period_end else "-",
                )
                for s in subs
            ),
        )
        return format_html(
            "<table><thead><tr><th>subscription</th><th>status</th><th>plan</th><th>seats</th>"
            "<th>period end</th></tr></thead><tbody>{}</tbody></table>{}",
            body,
            _changelist_link(Subscription, "all subscriptions →", tenant__id__exact=obj.pk),
        )

    @admin.display(description="invoices")
    def invoices_table(self, obj: Tenant) -> str:
        invoices = Invoice.objects.filter(tenant=obj).order_by("-stripe_created", "-id")[:PAGE_ROWS]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _change_link(i, i.number or i.stripe_invoice_id),
                    i.status or "-",
                    money(i.total, i.currency),
                    money(i.amount_paid, i.currency),
                    f"{i.stripe_created:%Y-%m-%d}" if i.stripe_created else "-",
                )
                for i in invoices
            ),
        )
        return format_html(
            "<table><thead><tr><th>invoice</th><th>status</th><th>total</th><th>paid</th><th>date</th></tr>"
            "</thead><tbody>{}</tbody></table>{}",
            body,
            _changelist_link(Invoice, "all invoices →", tenant__id__exact=obj.pk),
        )

    # --- writes ---------------------------------------------------------------------------------

    @override
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # provisioning takes a ready schema: signup or `manage.py provision_tenant`

    @override
    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # close, then `manage.py tenant purge` after the retention period

    @override
    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        # Only the name is editable on the organization itself; domains are saved by the inline.
        if "name" in form.changed_data:
            tenant_rename(tenant=obj, name=form.cleaned_data["name"])

    def _lifecycle(self, request: HttpRequest, queryset: QuerySet[Tenant], action: str) -> None:
        changed, refused = [], []
        for tenant in queryset:
            try:
                before = tenant.status
                after = organization_lifecycle_change(
                    tenant=tenant,
                    action=action,
                    via="admin",
                    operator=request.user,  # type: ignore[arg-type]
                    ip=request.META.get("REMOTE_ADDR"),
                )
                if after.status != before:
                    changed.append(after.slug)
            except ValidationError as exc:
                refused.append(f"{tenant.slug} ({' '.join(exc.messages)})")
        if changed:
            self.message_user(request, f"{action}: {', '.join(changed)}.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{action} refused: {'; '.join(refused)}", messages.ERROR)
        if not changed and not refused:
            self.message_user(request, f"{action}: nothing to change.", messages.INFO)

    @admin.action(description="Suspend selected organizations (read-only)", permissions=["change"])
    def suspend_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._lifecycle(request, queryset, "suspend")

    @admin.action(description="Reactivate selected organizations", permissions=["change"])
    def reactivate_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._lifecycle(request, queryset, "reactivate")

    @admin.action(description="Close selected organizations (data kept until purge)", permissions=["change"])
    def close_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._lifecycle(request, queryset, "close")


@admin.register(SpareSchema)
class SpareSchemaAdmin(admin.ModelAdmin):
    list_display = ("schema_name", "created_at")
    search_fields = ("schema_name",)

    @override
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # `manage.py refill_schema_pool`

    @override
    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @override
    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MigrationResultInline(admin.TabularInline):
    model = TenantMigrationResult
    fields = ("schema_name", "outcome", "seconds", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("outcome", "schema_name")

    @override
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(TenantMigrationRun)
class TenantMigrationRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "started_at", "finished_at", "schemas", "failed")
    date_hierarchy = "started_at"
    readonly_fields = ("started_at", "finished_at", "target")
    inlines = (MigrationResultInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[TenantMigrationRun]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                schema_total=Count("results"),
                failed_total=Count("results", filter=Q(results__outcome=TenantMigrationResult.Outcome.FAILED)),
            )
        )

    @admin.display(description="schemas", ordering="schema_total")
    def schemas(self, obj: TenantMigrationRun) -> int:
        return obj.schema_total  # type: ignore[attr-defined]

    @admin.display(description="failed", ordering="failed_total")
    def failed(self, obj: TenantMigrationRun) -> int:
        return obj.failed_total  # type: ignore[attr-defined]

    @override
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @override
    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
