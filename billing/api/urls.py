"""Mounted at api/v1/billing/ on tenant hosts: the billing viewset's actions, bound one per path (the
names and paths the API always had)."""

from django.urls import path

from billing.api.views import BillingViewSet

# Starting a payment flow needs an admin-scoped token (D64); a read-only organization must still pay.
_PAYMENT = {"scope_area": "admin", "writable_when_read_only": True}

urlpatterns = [
    path("", BillingViewSet.as_view({"get": "overview"}), name="billing"),
    path("invoices/", BillingViewSet.as_view({"get": "invoices"}), name="billing-invoices"),
    path("checkout/", BillingViewSet.as_view({"post": "checkout"}, **_PAYMENT), name="billing-checkout"),
    path("portal/", BillingViewSet.as_view({"post": "portal"}, **_PAYMENT), name="billing-portal"),
]
