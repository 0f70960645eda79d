"""Finance reads (platform staff): MRR/ARR now and per month by plan, MRR movements, subscription
counts and amounts at risk, invoice figures, and the rows of the CSV exports. Everything comes from
the Stripe-synced mirror (billing.models); definitions in docs/billing.md ("Finance figures").

Query budget: the whole dashboard costs a fixed number of queries whatever the data size (one for all
month-end snapshots, one for first paid dates, one for invoice aggregates, one per table shown)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.finance.money import mrr_of
from billing.models import Invoice, Subscription, SubscriptionRevision, SubscriptionStatus
from tenants.models import Tenant

LIVE = ("active", "trialing", "past_due")
MOVEMENT_KINDS = ("new", "expansion", "contraction", "churned", "reactivated")
MAX_MONTHS = 60


@dataclass(frozen=True)
class FinanceFilter:
    """Dates are inclusive UTC calendar days; `plan` "" means every plan."""

    start: dt.date
    end: dt.date
    plan: str = ""

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=dt.UTC)

    @property
    def end_before(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def finance_filter_default(*, today: dt.date) -> FinanceFilter:
    """The last 12 months: the first day of the month 11 months ago through today."""
    start = _month_start(today)
    for _ in range(11):
        start = _month_start(start - dt.timedelta(days=1))
    return FinanceFilter(start=start, end=today)


def plan_codes() -> list[str]:
    """The plans a filter may name: the catalog's, in catalog order."""
    return list(settings.BILLING_PLANS)


# --- MRR snapshots ---------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """The mirror's subscriptions as they stood just before `at`."""

    at: dt.datetime
    # currency -> plan -> MRR (minor units)
    mrr: dict[str, dict[str, int]] = field(default_factory=dict)
    # (tenant_id, currency) -> MRR
    by_tenant: dict[tuple[int, str], int] = field(default_factory=dict)
    # status -> number of subscriptions
    counts: dict[str, int] = field(default_factory=dict)
    # currency -> MRR of past_due subscriptions
    past_due_mrr: dict[str, int] = field(default_factory=dict)

    def total(self, currency: str) -> int:
        return sum(self.mrr.get(currency, {}).values())


def _snapshots(*, moments: list[dt.datetime], plan: str) -> list[Snapshot]:
    """One query for every moment: the newest revision of each subscription before the moment."""
    snapshots = [Snapshot(at=at) for at in moments]
    if not moments:
        return snapshots
    table = SubscriptionRevision._meta.db_table
    plan_sql = "AND r.plan_code = %s" if plan else ""
    sql = f"""
        SELECT b.idx, r.tenant_id, r.currency, r.plan_code, r.status, COUNT(*), COALESCE(SUM(r.mrr), 0)
        FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS b(at, idx)
        CROSS JOIN LATERAL (
            SELECT DISTINCT ON (v.subscription_id) v.tenant_id, v.currency, v.plan_code, v.status, v.mrr
            FROM "{table}" v
            WHERE v.effective_at < b.at
            ORDER BY v.subscription_id, v.effective_at DESC, v.id DESC
        ) r
        WHERE r.status IN ('active', 'trialing', 'past_due') {plan_sql}
        GROUP BY b.idx, r.tenant_id, r.currency, r.plan_code, r.status
    """  # noqa: S608 - the table name is the model's, the values are parameters
    params: list[Any] = [moments]
    if plan:
        params.append(plan)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for idx, tenant_id, currency, plan_code, status, count, mrr in rows:
        snap = snapshots[int(idx) - 1]
        snap.counts[status] = snap.counts.get(status, 0) + int(count)
        if mrr:
            by_plan = snap.mrr.setdefault(currency, {})
            name = plan_code or "other"
            by_plan[name] = by_plan.get(name, 0) + int(mrr)
            key = (int(tenant_id), currency)
            snap.by_tenant[key] = snap.by_tenant.get(key, 0) + int(mrr)
            if status == "past_due":
                snap.past_due_mrr[currency] = snap.past_due_mrr.get(currency, 0) + int(mrr)
    return snapshots


def _first_paid(*, plan: str) -> dict[tuple[int, str], dt.datetime]:
    """(tenant, currency) -> when it first had MRR (on `plan`, if given)."""
    qs = SubscriptionRevision.objects.filter(mrr__gt=0)
    if plan:
        qs = qs.filter(plan_code=plan)
    return {
        (row["tenant_id"], row["currency"]): row["first"]
        for row in qs.values("tenant_id", "currency").annotate(first=Min("effective_at"))
    }


# --- Months and movements --------------------------------------------------------------------------


@dataclass
class Movement:
    month: dt.date
    tenant_id: int
    currency: str
    kind: str
    amount: int  # signed minor units: negative for contraction and churn
    before: int
    after: int
    tenant_slug: str = ""


@dataclass
class Month:
    month: dt.date  # first day
    start: dt.datetime  # window [start, end) inside the filter and before now
    end: dt.datetime
    snapshot: Snapshot
    # currency -> kind -> signed minor units
    movements: dict[str, dict[str, int]] = field(default_factory=dict)

    def net(self, currency: str) -> int:
        return sum(self.movements.get(currency, {}).values())


@dataclass
class FinanceReport:
    filter: FinanceFilter
    now: dt.datetime
    as_of: dt.datetime  # the moment "now" figures describe: the end of the range, or now
    months: list[Month]
    current: Snapshot
    movements: list[Movement]
    currencies: list[str]
    plans: list[str]  # plans that appear, catalog order first


def _windows(*, flt: FinanceFilter, now: dt.datetime) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
    windows = []
    month = _month_start(flt.start)
    while month <= flt.end:
        month_at = dt.datetime.combine(month, dt.time.min, tzinfo=dt.UTC)
        next_at = dt.datetime.combine(_next_month(month), dt.time.min, tzinfo=dt.UTC)
        start = max(month_at, flt.start_at)
        end = min(next_at, flt.end_before, now)
        if start >= end:
            break  # the rest of the range is in the future
        windows.append((month, start, end))
        month = _next_month(month)
    return windows


def _classify(before: int, after: int, first_paid: dt.datetime | None, window_start: dt.datetime) -> str | None:
    if before == after:
        return None
    if before == 0:
        return "reactivated" if first_paid is not None and first_paid < window_start else "new"
    if after == 0:
        return "churned"
    return "expansion" if after > before else "contraction"


def finance_report(*, flt: FinanceFilter, now: dt.datetime) -> FinanceReport:
    """MRR per month (at each month's end, or at the end of the range or now for the last one), the
    movements between consecutive snapshots per organization and currency, and the figures "now"."""
    windows = _windows(flt=flt, now=now)
    as_of = min(flt.end_before, now)
    moments = [windows[0][1]] + [end for _, _, end in windows] if windows else [as_of]
    snaps = _snapshots(moments=moments, plan=flt.plan)
    first_paid = _first_paid(plan=flt.plan) if windows else {}
    months: list[Month] = []
    movements: list[Movement] = []
    for i, (month, start, end) in enumerate(windows):
        before, after = snaps[i], snaps[i + 1]
        row = Month(month=month, start=start, end=end, snapshot=after)
        for key in sorted(set(before.by_tenant) | set(after.by_tenant)):
            old, new = before.by_tenant.get(key, 0), after.by_tenant.get(key, 0)
            kind = _classify(old, new, first_paid.get(key), start)
            if kind is None:
                continue
            tenant_id, currency = key
            per = row.movements.setdefault(currency, dict.fromkeys(MOVEMENT_KINDS, 0))
            per[kind] += new - old
            movements.append(Movement(month, tenant_id, currency, kind, new - old, old, new))
        months.append(row)
    current = snaps[-1]
    if movements:
        slugs = dict(Tenant.objects.filter(pk__in={m.tenant_id for m in movements}).values_list("pk", "slug"))
        for m in movements:
            m.tenant_slug = slugs.get(m.tenant_id, str(m.tenant_id))
    # The currency with the most MRR first (then by code): the main one leads the page.
    currencies = sorted(
        {c for s in snaps for c in s.mrr} | {m.currency for m in movements},
        key=lambda c: (-current.total(c), c),
    )
    for month_row in months:
        for currency in currencies:
            month_row.movements.setdefault(currency, dict.fromkeys(MOVEMENT_KINDS, 0))
    seen = {p for s in snaps for per in s.mrr.values() for p in per}
    catalog = plan_codes()
    plans = [p for p in catalog if p in seen] + sorted(seen - set(catalog))
    return FinanceReport(
        filter=flt,
        now=now,
        as_of=current.at,
        months=months,
        current=current,
        movements=movements,
        currencies=currencies,
        plans=plans,
    )


# --- Invoices --------------------------------------------------------------------------------------


def _plan_subscriptions(plan: str) -> QuerySet[Subscription]:
    return Subscription.objects.filter(plan_code=plan).values("stripe_subscription_id")  # type: ignore[return-value]


def invoices_for_finance(*, flt: FinanceFilter) -> QuerySet[Invoice]:
    """Invoices Stripe created inside the range; with a plan, those of that plan's subscriptions."""
    qs = Invoice.objects.filter(stripe_created__gte=flt.start_at, stripe_created__lt=flt.end_before)
    if flt.plan:
        qs = qs.filter(stripe_subscription_id__in=_plan_subscriptions(flt.plan))
    return qs.select_related("tenant").order_by("-stripe_created", "-id")


OPEN = Q(status="open")
OVERDUE = Q(status="open", attempt_count__gt=0)
FAILED = Q(status__in=["open", "uncollectible"], attempt_count__gt=0)
REFUNDED = Q(amount_refunded__gt=0)
COUNTED = ~Q(status__in=["draft", "void"])


def invoice_figures(*, flt: FinanceFilter) -> dict[str, dict[str, int]]:
    """currency -> figures (minor units and counts) over the invoices in the range, in one query."""
    past_due = Subscription.objects.filter(
        stripe_subscription_id=OuterRef("stripe_subscription_id"), status=SubscriptionStatus.PAST_DUE
    )
    qs = (
        invoices_for_finance(flt=flt)
        .select_related(None)
        .order_by()
        .annotate(of_past_due=Exists(past_due))
        .values("currency")
    )

    def total(name: str, q: Q) -> Coalesce:
        return Coalesce(Sum(name, filter=q), Value(0), output_field=IntegerField())

    rows = qs.annotate(
        invoiced_count=Count("id", filter=COUNTED),
        invoiced=total("total", COUNTED),
        paid=total("amount_paid", COUNTED),
        open_count=Count("id", filter=OPEN),
        open_amount=total("amount_remaining", OPEN),
        overdue_count=Count("id", filter=OVERDUE),
        overdue_amount=total("amount_remaining", OVERDUE),
        failed_count=Count("id", filter=FAILED),
        failed_amount=total("amount_remaining", FAILED),
        refund_count=Count("id", filter=REFUNDED),
        refunded=total("amount_refunded", REFUNDED),
        past_due_due=total("amount_remaining", OPEN & Q(of_past_due=True)),
    )
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        values: dict[str, Any] = dict(row)
        currency = str(values.pop("currency"))
        out[currency] = {key: int(value) for key, value in values.items()}
    return out


def failed_payments(*, flt: FinanceFilter, limit: int | None = None) -> QuerySet[Invoice]:
    qs = invoices_for_finance(flt=flt).filter(FAILED)
    return qs[:limit] if limit else qs


# --- Subscriptions ---------------------------------------------------------------------------------


def subscriptions_for_finance(*, flt: FinanceFilter) -> QuerySet[Subscription]:
    """Subscriptions that existed during the range (started before its end, not ended before its
    start), with the plan filter on their present plan, annotated with their start, their last change
    and their price interval."""
    newest = SubscriptionRevision.objects.filter(subscription_id=OuterRef("pk")).order_by("-effective_at", "-id")
    qs = Subscription.objects.annotate(
        started=Min("revisions__effective_at"),
        last_change=Max("revisions__effective_at"),
        interval=Subquery(newest.values("interval")[:1]),
        interval_count=Subquery(newest.values("interval_count")[:1]),
    ).filter(started__lt=flt.end_before)
    qs = qs.exclude(status__in=["canceled", "incomplete_expired"], last_change__lt=flt.start_at)
    if flt.plan:
        qs = qs.filter(plan_code=flt.plan)
    return qs.select_related("tenant").order_by("tenant__slug", "started", "id")


def subscription_mrr(sub: Subscription) -> int:
    return mrr_of(
        status=sub.status,
        unit_amount=sub.unit_amount,
        quantity=sub.quantity,
        interval=getattr(sub, "interval", None) or "month",
        interval_count=getattr(sub, "interval_count", None) or 1,
    )
