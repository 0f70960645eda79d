"""Every finance figure against known mirror data (tests/finance/support.py tells the story)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.finance import selectors as fin
from billing.finance.views import finance_payload
from tests.finance.support import apply, build_story, invoice, organization, plans_with_enterprise

pytestmark = pytest.mark.django_db

YEAR = fin.FinanceFilter(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
NOW = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)  # any moment after the range

# End-of-month MRR in USD cents per plan, January to December 2025.
USD_BY_PLAN = {
    1: {"team": 4800},
    2: {"team": 4800, "enterprise": 4083},
    3: {"team": 8400, "enterprise": 4083},
    4: {"team": 7200, "enterprise": 4083},
    5: {"team": 7200, "enterprise": 4083},
    6: {"team": 1200, "business": 4900, "enterprise": 4083},
    7: {"team": 1200, "business": 4900, "enterprise": 4083},
    8: {"team": 4800, "business": 4900, "enterprise": 4083},
    9: {"team": 3600, "business": 4900, "enterprise": 4083},
    10: {"team": 3600, "business": 4900, "enterprise": 4083},
    11: {"team": 3600, "business": 4900, "enterprise": 4083},
    12: {"team": 3600, "business": 4900, "enterprise": 4083},
}
NO_MOVES = dict.fromkeys(fin.MOVEMENT_KINDS, 0)
USD_MOVES = {
    1: {**NO_MOVES, "new": 3600},
    2: {**NO_MOVES, "new": 4083},
    3: {**NO_MOVES, "expansion": 3600},
    4: {**NO_MOVES, "churned": -1200},
    6: {**NO_MOVES, "contraction": -1100},
    8: {**NO_MOVES, "reactivated": 3600},
    9: {**NO_MOVES, "churned": -1200},
}


@pytest.fixture
def story(settings: Any) -> Any:
    plans_with_enterprise(settings)
    return build_story()


@pytest.mark.usefixtures("story")
def test_mrr_per_month_by_plan_and_currency() -> None:
    report = fin.finance_report(flt=YEAR, now=NOW)
    assert [m.month for m in report.months] == [dt.date(2025, n, 1) for n in range(1, 13)]
    assert [m.snapshot.mrr.get("usd", {}) for m in report.months] == [USD_BY_PLAN[n] for n in range(1, 13)]
    assert [m.snapshot.mrr.get("eur", {}) for m in report.months] == [{}] * 4 + [{"team": 1000}] * 8
    assert [m.snapshot.total("usd") for m in report.months] == [
        4800, 8883, 12483, 11283, 11283, 10183, 10183, 13783, 12583, 12583, 12583, 12583,
    ]  # fmt: skip
    assert report.currencies == ["usd", "eur"]  # the most MRR first
    assert report.plans == ["team", "business", "enterprise"]  # catalog order


@pytest.mark.usefixtures("story")
def test_mrr_movements_per_month() -> None:
    report = fin.finance_report(flt=YEAR, now=NOW)
    for month in report.months:
        assert month.movements["usd"] == USD_MOVES.get(month.month.month, NO_MOVES), month.month
        expected_eur = {**NO_MOVES, "new": 1000} if month.month.month == 5 else NO_MOVES
        assert month.movements["eur"] == expected_eur, month.month
    # The movements explain the change: opening 12.00 (fjord) + net = closing.
    assert 1200 + sum(m.net("usd") for m in report.months) == report.current.total("usd")
    assert [(f"{m.month:%m}", m.tenant_slug, m.kind, m.amount, m.before, m.after) for m in report.movements] == [
        ("01", "acme", "new", 2400, 0, 2400),
        ("01", "cobalt", "new", 1200, 0, 1200),
        ("02", "bolt", "new", 4083, 0, 4083),
        ("03", "acme", "expansion", 3600, 2400, 6000),
        ("04", "cobalt", "churned", -1200, 1200, 0),
        ("05", "echo", "new", 1000, 0, 1000),
        ("06", "acme", "contraction", -1100, 6000, 4900),
        ("08", "cobalt", "reactivated", 3600, 0, 3600),
        ("09", "fjord", "churned", -1200, 1200, 0),
    ]


@pytest.mark.usefixtures("story")
def test_figures_now_counts_and_amounts_at_risk() -> None:
    report = fin.finance_report(flt=YEAR, now=NOW)
    assert report.as_of == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # the end of the range
    now = report.current
    assert now.mrr == {"usd": {"team": 3600, "business": 4900, "enterprise": 4083}, "eur": {"team": 1000}}
    assert now.total("usd") == 12583
    assert now.total("eur") == 1000
    assert now.counts == {"active": 3, "trialing": 1, "past_due": 1}
    assert now.past_due_mrr == {"usd": 4083}


@pytest.mark.usefixtures("story")
def test_invoice_figures() -> None:
    assert fin.invoice_figures(flt=YEAR) == {
        "usd": {
            "invoiced_count": 6,  # the void one and the 2024 one are not counted
            "invoiced": 63400,
            "paid": 9600,
            "open_count": 2,
            "open_amount": 52600,
            "overdue_count": 1,
            "overdue_amount": 49000,
            "failed_count": 2,
            "failed_amount": 50200,
            "refund_count": 1,
            "refunded": 1000,
            "past_due_due": 49000,
        },
        "eur": {
            "invoiced_count": 1,
            "invoiced": 1000,
            "paid": 1000,
            "open_count": 0,
            "open_amount": 0,
            "overdue_count": 0,
            "overdue_amount": 0,
            "failed_count": 0,
            "failed_amount": 0,
            "refund_count": 1,
            "refunded": 1000,
            "past_due_due": 0,
        },
    }
    assert [i.stripe_invoice_id for i in fin.failed_payments(flt=YEAR)] == ["in_bolt_1", "in_fjord_1"]


@pytest.mark.usefixtures("story")
def test_plan_filter_splits_a_plan_change_into_leaving_and_joining() -> None:
    team = fin.finance_report(flt=fin.FinanceFilter(start=YEAR.start, end=YEAR.end, plan="team"), now=NOW)
    moves = {m.month.month: m.movements["usd"] for m in team.months if m.movements["usd"] != NO_MOVES}
    assert moves == {
        1: {**NO_MOVES, "new": 3600},
        3: {**NO_MOVES, "expansion": 3600},
        4: {**NO_MOVES, "churned": -1200},
        6: {**NO_MOVES, "churned": -6000},  # acme moved to business
        8: {**NO_MOVES, "reactivated": 3600},
        9: {**NO_MOVES, "churned": -1200},
    }
    assert team.current.mrr == {"usd": {"team": 3600}, "eur": {"team": 1000}}
    assert team.current.counts == {"active": 2, "trialing": 1}

    business = fin.finance_report(flt=fin.FinanceFilter(start=YEAR.start, end=YEAR.end, plan="business"), now=NOW)
    assert [(m.month.month, m.kind, m.amount) for m in business.movements] == [(6, "new", 4900)]
    assert [m.snapshot.total("usd") for m in business.months] == [0] * 5 + [4900] * 7
    assert business.current.counts == {"active": 1}

    ent = fin.finance_report(flt=fin.FinanceFilter(start=YEAR.start, end=YEAR.end, plan="enterprise"), now=NOW)
    assert [(m.month.month, m.kind, m.amount) for m in ent.movements] == [(2, "new", 4083)]
    assert ent.current.counts == {"past_due": 1}
    assert ent.current.past_due_mrr == {"usd": 4083}

    team_invoices = fin.invoice_figures(flt=fin.FinanceFilter(start=YEAR.start, end=YEAR.end, plan="team"))
    assert team_invoices["usd"]["invoiced_count"] == 3  # cobalt's two and fjord's (acme is on business now)
    assert team_invoices["usd"]["failed_amount"] == 1200
    assert team_invoices["eur"]["refunded"] == 1000


@pytest.mark.usefixtures("story")
def test_a_range_inside_months_and_ending_today() -> None:
    """From mid-March to mid-June: windows are clipped to the range; the last one ends at `now`."""
    flt = fin.FinanceFilter(start=dt.date(2025, 3, 15), end=dt.date(2025, 6, 30))
    report = fin.finance_report(flt=flt, now=dt.datetime(2025, 6, 20, tzinfo=dt.UTC))
    assert [(m.month.month, m.start.day, m.end) for m in report.months] == [
        (3, 15, dt.datetime(2025, 4, 1, tzinfo=dt.UTC)),
        (4, 1, dt.datetime(2025, 5, 1, tzinfo=dt.UTC)),
        (5, 1, dt.datetime(2025, 6, 1, tzinfo=dt.UTC)),
        (6, 1, dt.datetime(2025, 6, 20, tzinfo=dt.UTC)),
    ]
    # acme's expansion on 03-05 happened before the range: March shows no movement.
    assert report.months[0].movements["usd"] == NO_MOVES
    assert report.as_of == dt.datetime(2025, 6, 20, tzinfo=dt.UTC)
    assert report.current.total("usd") == 10183


@pytest.mark.usefixtures("story")
def test_json_payload_has_every_figure_in_currency_units() -> None:
    payload = finance_payload(flt=YEAR, now=NOW)
    assert payload["filter"] == {"from": "2025-01-01", "to": "2025-12-31", "plan": None}
    assert payload["as_of"] == "2026-01-01T00:00:00+00:00"
    assert payload["currencies"] == ["eur", "usd"]  # sorted by code in the JSON
    assert payload["mrr"] == {
        "eur": {"total": "10.00", "arr": "120.00", "by_plan": {"team": "10.00"}},
        "usd": {
            "total": "125.83",
            "arr": "1509.96",
            "by_plan": {"team": "36.00", "business": "49.00", "enterprise": "40.83"},
        },
    }
    assert payload["subscriptions"] == {"active": 3, "trialing": 1, "past_due": 1, "past_due_mrr": {"usd": "40.83"}}
    months = payload["months"]
    assert [m["month"] for m in months] == [f"2025-{n:02}" for n in range(1, 13)]
    assert months[5]["mrr"]["usd"] == {
        "total": "101.83",
        "arr": "1221.96",
        "by_plan": {"team": "12.00", "business": "49.00", "enterprise": "40.83"},
    }
    assert months[7]["movements"]["usd"] == {
        "new": "0.00",
        "expansion": "0.00",
        "contraction": "0.00",
        "churned": "0.00",
        "reactivated": "36.00",
        "net": "36.00",
    }
    assert months[4]["movements"]["eur"]["new"] == "10.00"
    assert payload["invoices"]["usd"] == {
        "invoiced": {"count": 6, "amount": "634.00"},
        "paid": "96.00",
        "open": {"count": 2, "amount": "526.00"},
        "overdue": {"count": 1, "amount": "490.00"},
        "failed_payments": {"count": 2, "amount": "502.00"},
        "refunds": {"count": 1, "amount": "10.00"},
        "past_due_amount_due": "490.00",
    }
    assert payload["failed_payments"][0] == {
        "tenant": "bolt",
        "invoice": "in_bolt_1",
        "number": "INV-BOLT_1",
        "status": "open",
        "amount_remaining": "490.00",
        "currency": "usd",
        "attempts": 2,
        "created": "2025-11-20T12:00:00+00:00",
    }


def _queries(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.mark.usefixtures("story")
def test_query_count_does_not_grow_with_the_data() -> None:
    def everything() -> None:
        finance_payload(flt=YEAR, now=NOW)

    before = _queries(everything)
    for n in range(12):  # twelve more organizations, each with history and invoices
        customer = organization(f"more{n}")
        apply(customer, "2025-02-03", f"sub_more{n}", price="team", quantity=1 + n, start="2025-02-03")
        apply(customer, "2025-07-03", f"sub_more{n}", price="business", start="2025-02-03")
        invoice(customer, f"in_more{n}", created="2025-03-03", status="open", total=1200, subscription=f"sub_more{n}")
    assert _queries(everything) == before
    assert before <= 5
