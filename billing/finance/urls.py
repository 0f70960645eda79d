from django.urls import path

from billing.finance import views

urlpatterns = [
    path("", views.finance_summary, name="finance"),
    path("invoices.csv", views.finance_invoices_csv, name="finance-invoices-csv"),
]
