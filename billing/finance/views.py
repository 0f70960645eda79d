"""Platform finance on the public host, for staff only: the dashboard (HTML), the same figures as JSON
for tools (/finance/api/), and CSV exports of invoices, subscriptions and MRR movements. Every view
takes the same filter (?from=&to=&plan=). The figures come from billing.finance.selectors."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing.finance import charts
from billing.finance import selectors as fin
from billing.finance.forms import FinanceFilterForm
from billing.finance.money import display, units
from billing.models import Invoice
from tenants.base.errors import error_payload, error_response, wants_json

View = Callable[..., HttpResponse]


def _is_staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def staff_only(*, api: bool = False) -> Callable[[View], View]:
    """Anonymous: the sign-in page (then back here), or 401 for the JSON API. Signed in without staff
    rights: 404, as if finance did not exist."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                if api:
                    return JsonResponse(error_payload("not_authenticated", "Sign in as platform staff."), status=401)
                return HttpResponseRedirect(f"/signin/?{urlencode({'next': request.get_full_path()})}")
            if not _is_staff(request):
                if api:
                    return JsonResponse(error_payload("not_found", "Not found."), status=404)
                raise Http404()
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def _form(request: HttpRequest) -> FinanceFilterForm:
    return FinanceFilterForm(request.GET, today=timezone.now().date())


def _bad_filter(request: HttpRequest, form: FinanceFilterForm, *, api: bool) -> HttpResponse:
    message = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.error_fields().items())
    if api or wants_json(request):
        return JsonResponse(error_payload(form.error_code(), message, form.error_fields()), status=400)
    return error_response(request, status=400, code=form.error_code(), message=f"Invalid filter. {message}")


def _query(flt: fin.FinanceFilter) -> str:
    params = {"from": flt.start.isoformat(), "to": flt.end.isoformat()}
    if flt.plan:
        params["plan"] = flt.plan
    return urlencode(params)


# --- Dashboard -------------------------------------------------------------------------------------


@require_GET
@staff_only()
def finance_dashboard(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    if not form.is_valid():
        return render(
            request,
            "finance/dashboard.html",
            {"form": form, "error_code": form.error_code(), "report": None},
            status=400,
        )
    flt = form.finance_filter()
    report = fin.finance_report(flt=flt, now=timezone.now())
    invoices = fin.invoice_figures(flt=flt)
    currencies = report.currencies + sorted(set(invoices) - set(report.currencies))
    mrr_charts = charts.mrr_charts(report)
    context = {
        "form": form,
        "report": report,
        "query": _query(flt),
        "cards": [_cards(report, invoices, c) for c in currencies],
        "counts": report.current.counts,
        "charts": [(chart, charts.plan_mix(report, chart.currency)) for chart in mrr_charts],
        "month_tables": _month_tables(report),
        "failed": [_shown(inv) for inv in fin.failed_payments(flt=flt, limit=20)],
        "recent": [_shown(inv) for inv in fin.invoices_for_finance(flt=flt)[:20]],
    }
    return render(request, "finance/dashboard.html", context)


def _shown(inv: Invoice) -> Invoice:
    """The invoice with its amounts formatted for the page."""
    inv.owed = display(inv.amount_remaining, inv.currency)  # type: ignore[attr-defined]
    inv.total_display = display(inv.total, inv.currency)  # type: ignore[attr-defined]
    inv.refunded_display = display(inv.amount_refunded, inv.currency) if inv.amount_refunded else ""  # type: ignore[attr-defined]
    return inv


def _cards(report: fin.FinanceReport, invoices: dict[str, dict[str, int]], currency: str) -> dict[str, Any]:
    mrr = report.current.total(currency)
    inv = invoices.get(currency, {})
    return {
        "currency": currency.upper(),
        "mrr": display(mrr, currency),
        "arr": display(12 * mrr, currency),
        "by_plan": [
            (plan, display(amount, currency))
            for plan in report.plans
            if (amount := report.current.mrr.get(currency, {}).get(plan, 0))
        ],
        "past_due_mrr": display(report.current.past_due_mrr.get(currency, 0), currency),
        "past_due_due": display(inv.get("past_due_due", 0), currency),
        "open": (inv.get("open_count", 0), display(inv.get("open_amount", 0), currency)),
        "overdue": (inv.get("overdue_count", 0), display(inv.get("overdue_amount", 0), currency)),
        "failed": (inv.get("failed_count", 0), display(inv.get("failed_amount", 0), currency)),
        "refunds": (inv.get("refund_count", 0), display(inv.get("refunded", 0), currency)),
        "invoiced": (inv.get("invoiced_count", 0), display(inv.get("invoiced", 0), currency)),
    }


def _month_tables(report: fin.FinanceReport) -> list[dict[str, Any]]:
    """One table per currency: MRR at each month's end, per plan, and the month's movements."""
    tables = []
    for currency in report.currencies:
        plans = [p for p in report.plans if any(m.snapshot.mrr.get(currency, {}).get(p) for m in report.months)]
        rows = []
        for month in report.months:
            moves = month.movements.get(currency, {})
            rows.append(
                {
                    "month": month.month,
                    "mrr": display(month.snapshot.total(currency), currency, code=False),
                    "by_plan": [
                        display(month.snapshot.mrr.get(currency, {}).get(plan, 0), currency, code=False)
                        for plan in plans
                    ],
                    "moves": [_move(moves.get(kind, 0), currency) for kind in fin.MOVEMENT_KINDS],
                    "net": _move(month.net(currency), currency),
                }
            )
        tables.append({"currency": currency.upper(), "plans": plans, "rows": rows})
    return tables


def _move(amount: int, currency: str) -> str:
    if not amount:
        return "—"
    return ("+" if amount > 0 else "") + display(amount, currency, code=False)


# --- JSON for tools --------------------------------------------------------------------------------


def _money(values: dict[str, int], currency: str) -> dict[str, str]:
    return {key: units(value, currency) for key, value in values.items()}


def finance_payload(*, flt: fin.FinanceFilter, now: dt.datetime) -> dict[str, Any]:
    report = fin.finance_report(flt=flt, now=now)
    invoices = fin.invoice_figures(flt=flt)
    current = report.current
    return {
        "filter": {"from": flt.start.isoformat(), "to": flt.end.isoformat(), "plan": flt.plan or None},
        "as_of": report.as_of.isoformat(),
        "currencies": sorted(set(report.currencies) | set(invoices)),
        "mrr": {
            c: {
                "total": units(current.total(c), c),
                "arr": units(12 * current.total(c), c),
                "by_plan": _money(current.mrr.get(c, {}), c),
            }
            for c in report.currencies
        },
        "subscriptions": {
            "active": current.counts.get("active", 0),
            "trialing": current.counts.get("trialing", 0),
            "past_due": current.counts.get("past_due", 0),
            "past_due_mrr": {c: units(v, c) for c, v in current.past_due_mrr.items()},
        },
        "months": [
            {
                "month": f"{m.month:%Y-%m}",
                "as_of": m.end.isoformat(),
                "mrr": {
                    c: {
                        "total": units(m.snapshot.total(c), c),
                        "arr": units(12 * m.snapshot.total(c), c),
                        "by_plan": _money(m.snapshot.mrr.get(c, {}), c),
                    }
                    for c in report.currencies
                },
                "movements": {
                    c: {**_money(m.movements.get(c, {}), c), "net": units(m.net(c), c)} for c in report.currencies
                },
            }
            for m in report.months
        ],
        "invoices": {
            c: {
                "invoiced": {"count": v["invoiced_count"], "amount": units(v["invoiced"], c)},
                "paid": units(v["paid"], c),
                "open": {"count": v["open_count"], "amount": units(v["open_amount"], c)},
                "overdue": {"count": v["overdue_count"], "amount": units(v["overdue_amount"], c)},
                "failed_payments": {"count": v["failed_count"], "amount": units(v["failed_amount"], c)},
                "refunds": {"count": v["refund_count"], "amount": units(v["refunded"], c)},
                "past_due_amount_due": units(v["past_due_due"], c),
            }
            for c, v in sorted(invoices.items())
        },
        "failed_payments": [
            {
                "tenant": i.tenant.slug,
                "invoice": i.stripe_invoice_id,
                "number": i.number,
                "status": i.status,
                "amount_remaining": units(i.amount_remaining, i.currency),
                "currency": i.currency,
                "attempts": i.attempt_count,
                "created": i.stripe_created.isoformat() if i.stripe_created else None,
            }
            for i in fin.failed_payments(flt=flt)
        ],
    }


@require_GET
@staff_only(api=True)
def finance_api(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    if not form.is_valid():
        return _bad_filter(request, form, api=True)
    return JsonResponse(finance_payload(flt=form.finance_filter(), now=timezone.now()))


# --- CSV exports -----------------------------------------------------------------------------------


def _csv(name: str, flt: fin.FinanceFilter) -> tuple[HttpResponse, Any]:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    suffix = f"_{flt.plan}" if flt.plan else ""
    response["Content-Disposition"] = f'attachment; filename="{name}_{flt.start}_{flt.end}{suffix}.csv"'
    return response, csv.writer(response)


def _date(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).date().isoformat() if value else ""


def _csv_view(build: Callable[[fin.FinanceFilter], HttpResponse]) -> View:
    @require_GET
    @staff_only()
    @wraps(build)
    def view(request: HttpRequest) -> HttpResponse:
        form = _form(request)
        if not form.is_valid():
            return _bad_filter(request, form, api=False)
        return build(form.finance_filter())

    return view


def _invoices_csv(flt: fin.FinanceFilter) -> HttpResponse:
    response, writer = _csv("invoices", flt)
    writer.writerow(
        [
            "created",
            "tenant",
            "invoice",
            "number",
            "subscription",
            "status",
            "currency",
            "total",
            "amount_paid",
            "amount_remaining",
            "amount_refunded",
            "attempts",
            "period_start",
            "period_end",
        ]
    )
    for inv in fin.invoices_for_finance(flt=flt).iterator():
        c = inv.currency
        writer.writerow(
            [
                _date(inv.stripe_created),
                inv.tenant.slug,
                inv.stripe_invoice_id,
                inv.number,
                inv.stripe_subscription_id,
                inv.status,
                c,
                units(inv.total, c),
                units(inv.amount_paid, c),
                units(inv.amount_remaining, c),
                units(inv.amount_refunded, c),
                inv.attempt_count,
                _date(inv.period_start),
                _date(inv.period_end),
            ]
        )
    return response


def _subscriptions_csv(flt: fin.FinanceFilter) -> HttpResponse:
    response, writer = _csv("subscriptions", flt)
    writer.writerow(
        [
            "tenant",
            "subscription",
            "status",
            "plan",
            "quantity",
            "unit_amount",
            "interval",
            "mrr",
            "currency",
            "started",
            "canceled",
            "trial_end",
            "current_period_end",
        ]
    )
    for sub in fin.subscriptions_for_finance(flt=flt):
        c = sub.currency
        interval = getattr(sub, "interval", None) or "month"
        count = getattr(sub, "interval_count", None) or 1
        writer.writerow(
            [
                sub.tenant.slug,
                sub.stripe_subscription_id,
                sub.status,
                sub.plan_code,
                sub.quantity,
                units(sub.unit_amount, c),
                interval if count == 1 else f"{count} {interval}",
                units(fin.subscription_mrr(sub), c),
                c,
                _date(getattr(sub, "started", None)),
                _date(sub.canceled_at),
                _date(sub.trial_end),
                _date(sub.current_period_end),
            ]
        )
    return response


def _movements_csv(flt: fin.FinanceFilter) -> HttpResponse:
    response, writer = _csv("mrr_movements", flt)
    writer.writerow(["month", "tenant", "kind", "amount", "mrr_before", "mrr_after", "currency"])
    report = fin.finance_report(flt=flt, now=timezone.now())
    for m in report.movements:
        c = m.currency
        writer.writerow(
            [f"{m.month:%Y-%m}", m.tenant_slug, m.kind, units(m.amount, c), units(m.before, c), units(m.after, c), c]
        )
    return response


finance_invoices_csv = _csv_view(_invoices_csv)
finance_subscriptions_csv = _csv_view(_subscriptions_csv)
finance_movements_csv = _csv_view(_movements_csv)
