"""Tenant billing API (owners and the billing role): overview, invoices, checkout and portal URLs."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing import gateway, selectors, services
from shared_apps.accounts.permissions import IsTenantMember
from shared_apps.accounts.policies import BILLING_ROLES
from shared_apps.accounts.viewsets import TenantViewSet
from tenants.base.api.docs import ErrorEnvelope, error_responses
from tenants.base.request import tenant_request

_BILLING_ERRORS = {
    **error_responses(),
    503: OpenApiResponse(ErrorEnvelope, description="Stripe unreachable (`billing_unavailable`); retry later."),
}


class IsBillingManager(IsTenantMember):
    """Members of this tenant with the owner or billing role (others: 403; non-members: 404)."""

    message = "Only the organization's owners and billing managers can see billing."

    def has_permission(self, request: Request, view: object) -> bool:
        super().has_permission(request, view)
        return tenant_request(request).membership.role in BILLING_ROLES


def _gateway_unavailable() -> exceptions.APIException:
    error = exceptions.APIException(
        "Billing is temporarily unavailable. Try again shortly.", code="billing_unavailable"
    )
    error.status_code = 503
    return error


class _SubscriptionOutput(serializers.Serializer):
    status = serializers.CharField()
    plan = serializers.CharField()
    quantity = serializers.IntegerField()
    current_period_start = serializers.DateTimeField(allow_null=True)
    current_period_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    trial_end = serializers.DateTimeField(allow_null=True)


class _NoticeOutput(serializers.Serializer):
    code = serializers.ChoiceField(choices=["payment_action_required", "payment_failed", "trial_ending"])
    message = serializers.CharField()
    url = serializers.CharField(help_text="Where to act (the hosted invoice page), or empty.")
    invoice = serializers.CharField(help_text="The Stripe invoice id, or empty.")
    date = serializers.DateTimeField(allow_null=True, help_text="trial_ending: when the trial ends.")


class BillingOverviewOutput(serializers.Serializer):
    plan = serializers.CharField()
    status = serializers.CharField()
    subscription = _SubscriptionOutput(allow_null=True)
    seats = inline_serializer(
        "BillingSeats", {"used": serializers.IntegerField(), "limit": serializers.IntegerField(allow_null=True)}
    )
    usage = inline_serializer("BillingUsage", {"api_requests_this_hour": serializers.IntegerField()})
    # inline: a declared field named `read_only` would shadow the serializer's own attribute
    entitlements = inline_serializer(
        "BillingEntitlements",
        {
            "seats": serializers.IntegerField(allow_null=True),
            "projects": serializers.IntegerField(allow_null=True),
            "api_rpm": serializers.IntegerField(allow_null=True),
            "features": serializers.ListField(child=serializers.CharField()),
            "read_only": serializers.BooleanField(),
        },
    )
    notices = _NoticeOutput(many=True)


class UrlOutput(serializers.Serializer):
    url = serializers.URLField()


class InvoiceSerializer(serializers.Serializer):
    id = serializers.CharField(source="stripe_invoice_id")
    number = serializers.CharField()
    status = serializers.CharField()
    currency = serializers.CharField()
    total = serializers.IntegerField()
    amount_due = serializers.IntegerField()
    amount_paid = serializers.IntegerField()
    amount_refunded = serializers.IntegerField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    created = serializers.DateTimeField(source="stripe_created")
    hosted_invoice_url = serializers.CharField()
    invoice_pdf = serializers.CharField()


class CheckoutInput(serializers.Serializer):
    plan = serializers.CharField(max_length=40)


class BillingViewSet(TenantViewSet):
    """Billing of this organization: viewset actions bound in billing/api/urls.py (overview, invoices,
    checkout, portal: one resource, no list of objects)."""

    permission_classes = [IsBillingManager]
    writable_when_read_only = False  # checkout and portal: True (a read-only organization must still pay)

    @extend_schema(operation_id="billing_overview", responses={200: BillingOverviewOutput, **_BILLING_ERRORS})
    def overview(self, request: Request) -> Response:
        tenant = self.tenant
        overview = selectors.billing_overview(tenant=tenant)
        ent, sub = overview.entitlements, overview.subscription
        return Response(
            {
                "plan": ent.plan,
                "status": tenant.status,
                "subscription": None
                if sub is None
                else {
                    "status": sub.status,
                    "plan": sub.plan_code,
                    "quantity": sub.quantity,
                    "current_period_start": sub.current_period_start,
                    "current_period_end": sub.current_period_end,
                    "cancel_at_period_end": sub.cancel_at_period_end,
                    "trial_end": sub.trial_end,
                },
                "seats": {"used": overview.seats_used, "limit": ent.seats},
                "usage": {"api_requests_this_hour": overview.api_requests_this_hour},
                "entitlements": {
                    "seats": ent.seats,
                    "projects": ent.projects,
                    "api_rpm": ent.api_rpm,
                    "features": sorted(ent.features),
                    "read_only": ent.read_only,
                },
                "notices": _NoticeOutput(
                    selectors.billing_notices_for_tenant(tenant=tenant, subscription=sub), many=True
                ).data,
            }
        )

    @extend_schema(
        operation_id="billing_invoices",
        responses={
            200: inline_serializer("InvoiceList", {"results": InvoiceSerializer(many=True)}),
            **error_responses(),
        },
    )
    def invoices(self, request: Request) -> Response:
        invoices = selectors.invoices_for_tenant(tenant=self.tenant)[:100]
        return Response({"results": InvoiceSerializer(invoices, many=True).data})

    @extend_schema(
        operation_id="billing_checkout", request=CheckoutInput, responses={201: UrlOutput, **_BILLING_ERRORS}
    )
    def checkout(self, request: Request) -> Response:
        data = CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            url = services.checkout_start(
                tenant=self.tenant, plan_code=data.validated_data["plan"], host=request.get_host()
            )
        except gateway.GatewayError as exc:
            raise _gateway_unavailable() from exc
        return Response({"url": url}, status=201)

    @extend_schema(operation_id="billing_portal", request=None, responses={201: UrlOutput, **_BILLING_ERRORS})
    def portal(self, request: Request) -> Response:
        try:
            url = services.portal_start(tenant=self.tenant, host=request.get_host())
        except gateway.GatewayError as exc:
            raise _gateway_unavailable() from exc
        return Response({"url": url}, status=201)
