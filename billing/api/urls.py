"""Mounted at api/v1/billing/ on tenant hosts."""

from django.urls import path

from billing.api import views

urlpatterns = [
    path("", views.BillingOverviewApi.as_view(), name="billing"),
    path("invoices/", views.InvoiceListApi.as_view(), name="billing-invoices"),
    path("checkout/", views.CheckoutApi.as_view(), name="billing-checkout"),
    path("portal/", views.PortalApi.as_view(), name="billing-portal"),
]
