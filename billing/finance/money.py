"""Money helpers of the finance figures: monthly normalisation of a recurring price, and minor units
to the decimal string of the currency ("1250", "usd" -> "12.50"; "1250", "jpy" -> "1250")."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Months in one interval of a Stripe recurring price (Stripe's intervals: day, week, month, year).
MONTHS_PER_INTERVAL: dict[str, Decimal] = {
    "day": Decimal(12) / Decimal(365),
    "week": Decimal(12) / Decimal(52),
    "month": Decimal(1),
    "year": Decimal(12),
}

# Stripe's zero-decimal currencies: amounts are already whole units.
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)

MRR_STATUSES = ("active", "past_due")  # trials and every ended or unfinished state count 0


def monthly_amount(*, unit_amount: int, quantity: int, interval: str, interval_count: int) -> int:
    """Minor units per month for `quantity` seats at `unit_amount` per `interval_count` `interval`s,
    rounded half up to a whole minor unit (a yearly 100.00 is 8.33 a month)."""
    months = MONTHS_PER_INTERVAL.get(interval, Decimal(1)) * max(1, interval_count)
    value = Decimal(unit_amount) * Decimal(quantity) / months
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def mrr_of(*, status: str, unit_amount: int, quantity: int, interval: str, interval_count: int) -> int:
    if status not in MRR_STATUSES:
        return 0
    return monthly_amount(unit_amount=unit_amount, quantity=quantity, interval=interval, interval_count=interval_count)


def exponent(currency: str) -> int:
    return 0 if currency.lower() in ZERO_DECIMAL else 2


def units(amount: int, currency: str) -> str:
    """Minor units -> the amount in currency units as a plain decimal string (no grouping)."""
    places = exponent(currency)
    value = Decimal(int(amount)).scaleb(-places)
    return f"{value:.{places}f}"


def display(amount: int, currency: str, *, code: bool = True) -> str:
    """Human form with thousands separators and the currency code: "1,234.50 USD" ("1,234.50"
    without the code, for tables whose heading names the currency)."""
    places = exponent(currency)
    value = Decimal(int(amount)).scaleb(-places)
    text = f"{value:,.{places}f}"
    return f"{text} {currency.upper()}" if code else text
