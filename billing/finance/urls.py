"""Platform finance on the public host (staff only). /finance/api/ replaced the JSON that /finance/
used to answer (see docs/billing.md)."""

from django.urls import path

from billing.finance import views

urlpatterns = [
    path("", views.finance_dashboard, name="finance"),
    path("api/", views.finance_api, name="finance-api"),
    path("invoices.csv", views.finance_invoices_csv, name="finance-invoices-csv"),
    path("subscriptions.csv", views.finance_subscriptions_csv, name="finance-subscriptions-csv"),
    path("movements.csv", views.finance_movements_csv, name="finance-movements-csv"),
]
