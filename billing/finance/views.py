"""Platform finance (public host, staff only): invoices across tenants, MRR by plan, failed payments, CSV."""

from __future__ import annotations

import csv

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse

from billing import selectors


@staff_member_required
def finance_summary(request: HttpRequest) -> JsonResponse:
    return JsonResponse(selectors.finance_summary())


@staff_member_required
def finance_invoices_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="invoices.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["tenant", "invoice", "number", "status", "currency", "total", "amount_paid", "amount_refunded", "created"]
    )
    for inv in selectors.invoices_all().iterator():
        writer.writerow(
            [
                inv.tenant.slug,
                inv.stripe_invoice_id,
                inv.number,
                inv.status,
                inv.currency,
                inv.total,
                inv.amount_paid,
                inv.amount_refunded,
                inv.stripe_created.isoformat() if inv.stripe_created else "",
            ]
        )
    return response
