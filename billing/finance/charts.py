"""Server-rendered charts: geometry computed here, drawn as inline SVG by the templates (no script,
nothing fetched). One stacked column chart of MRR per month by plan per currency, and a plan mix."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from billing.finance.money import display
from billing.finance.selectors import FinanceReport

PALETTE = ("#3451d1", "#0e9384", "#dc6803", "#7a5af8", "#c11574", "#475467")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 78, 12, 14, 30


@dataclass
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class Label:
    x: float
    text: str


@dataclass
class Chart:
    currency: str
    width: int = WIDTH
    height: int = HEIGHT
    rects: list[Rect] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (plan, colour)
    baseline: float = HEIGHT - BOTTOM
    left: int = LEFT
    right: int = WIDTH - RIGHT
    description: str = ""


@dataclass
class MixRow:
    plan: str
    colour: str
    amount: str
    share: float  # percent
    width: float  # of 100


def plan_colours(plans: list[str]) -> dict[str, str]:
    return {plan: PALETTE[i % len(PALETTE)] for i, plan in enumerate(plans)}


def _nice_step(top: int) -> int:
    """A round step for about four grid lines up to `top` (minor units)."""
    if top <= 0:
        return 100
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return max(1, int(factor * magnitude))
    return int(10 * magnitude)


def mrr_charts(report: FinanceReport) -> list[Chart]:
    colours = plan_colours(report.plans)
    charts = []
    inner_w = WIDTH - LEFT - RIGHT
    inner_h = HEIGHT - TOP - BOTTOM
    for currency in report.currencies:
        present = [p for p in report.plans if any(m.snapshot.mrr.get(currency, {}).get(p) for m in report.months)]
        chart = Chart(currency=currency, legend=[(p, colours[p]) for p in present])
        totals = [m.snapshot.total(currency) for m in report.months]
        step = _nice_step(max(totals, default=0))
        top = step * max(1, math.ceil(max(totals, default=0) / step))
        for i in range(0, top + 1, step):
            chart.ticks.append(Tick(y=round(TOP + inner_h - inner_h * i / top, 1), label=display(i, currency)))
        slot = inner_w / max(1, len(report.months))
        bar = slot * 0.62
        for index, month in enumerate(report.months):
            x = LEFT + slot * index + (slot - bar) / 2
            y: float = TOP + inner_h
            for plan in report.plans:
                amount = month.snapshot.mrr.get(currency, {}).get(plan, 0)
                if amount <= 0:
                    continue
                h = inner_h * amount / top
                y -= h
                chart.rects.append(
                    Rect(
                        x=round(x, 1),
                        y=round(y, 1),
                        width=round(bar, 1),
                        height=round(h, 1),
                        fill=colours[plan],
                        title=f"{month.month:%b %Y} · {plan}: {display(amount, currency)}",
                    )
                )
            chart.labels.append(Label(x=round(LEFT + slot * index + slot / 2, 1), text=f"{month.month:%b %y}"))
        chart.description = "MRR per month by plan: " + "; ".join(
            f"{m.month:%b %Y} {display(t, currency)}" for m, t in zip(report.months, totals, strict=True)
        )
        charts.append(chart)
    return charts


def plan_mix(report: FinanceReport, currency: str) -> list[MixRow]:
    """Each plan's share of the MRR at the end of the range, in one currency."""
    colours = plan_colours(report.plans)
    by_plan = report.current.mrr.get(currency, {})
    total = sum(by_plan.values())
    rows = []
    for plan in report.plans:
        amount = by_plan.get(plan, 0)
        if amount <= 0 or total <= 0:
            continue
        share = 100 * amount / total
        rows.append(
            MixRow(
                plan=plan,
                colour=colours[plan],
                amount=display(amount, currency),
                share=round(share, 1),
                width=round(share, 2),
            )
        )
    return rows
