"""Small helpers: parameter coercion, time arithmetic, money formatting, metadata, diffs."""

from __future__ import annotations

import calendar
import copy
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from deploy.stripe_standin.errors import invalid_param, missing_param

# Stripe's metadata limits
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500
METADATA_MAX_KEYS = 50

Obj = dict[str, Any]

INTERVALS = ("day", "week", "month", "year")


# -- parameter coercion -----------------------------------------------------------------------------
def _given(params: Obj, name: str, label: str, *, required: bool) -> Any:
    """The parameter's value, or None when it is absent or empty (a 400 when ``required``)."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing_param(label)
        return None
    return value


def get_str(params: Obj, name: str, *, required: bool = False, param: str | None = None) -> str | None:
    label = param or name
    value = _given(params, name, label, required=required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_param(label, f"Invalid string: {label} must be a string.", "parameter_invalid_string")
    return value


def get_int(
    params: Obj,
    name: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    param: str | None = None,
) -> int | None:
    label = param or name
    value = _given(params, name, label, required=required)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        try:
            number = int(str(value))
        except ValueError:
            raise invalid_param(label, f"Invalid integer: {value}", "parameter_invalid_integer") from None
    if minimum is not None and number < minimum:
        raise invalid_param(
            label, f"Invalid {label}: must be greater than or equal to {minimum}", "parameter_invalid_integer"
        )
    return number


def get_bool(params: Obj, name: str, *, param: str | None = None) -> bool | None:
    value = params.get(name)
    label = param or name
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text == "true":
        return True
    if text == "false":
        return False
    raise invalid_param(label, f"Invalid boolean: {value}", "parameter_invalid_boolean")


def get_dict(params: Obj, name: str, *, param: str | None = None) -> Obj | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        label = param or name
        raise invalid_param(label, f"Invalid object: {label} must be a hash.", "parameter_invalid_object")
    return value


def get_list(params: Obj, name: str, *, param: str | None = None) -> list[Any] | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        # e.g. items[a][price]=... : a hash where Stripe expects an array
        label = param or name
        raise invalid_param(label, f"Invalid array: {label} must be an array.", "parameter_invalid_array")
    if not isinstance(value, list):
        return [value]
    return value


def get_decimal(params: Obj, name: str, *, param: str | None = None) -> Decimal | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        label = param or name
        raise invalid_param(label, f"Invalid decimal: {value}", "parameter_invalid_decimal") from None


def expand_paths(params: Obj) -> list[str]:
    value = params.get("expand")
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if v]
    raise invalid_param("expand", "Invalid array: expand must be an array.", "parameter_invalid_array")


def apply_metadata(current: Obj, update: Any, *, param: str = "metadata") -> Obj:
    """Stripe semantics: merge keys; an empty value unsets a key; ``metadata=""`` clears everything."""
    if update is None:
        return current
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise invalid_param(param, f"Invalid object: {param} must be a hash.", "parameter_invalid_object")
    merged = dict(current)
    for raw_key, value in update.items():
        key = str(raw_key)
        if len(key) > METADATA_MAX_KEY_LENGTH:
            raise invalid_param(f"{param}[{key}]", "Metadata keys can be at most 40 characters long.")
        if value == "" or value is None:
            merged.pop(key, None)
        else:
            text = str(value)
            if len(text) > METADATA_MAX_VALUE_LENGTH:
                raise invalid_param(f"{param}[{key}]", "Metadata values can be at most 500 characters long.")
            merged[key] = text
    if len(merged) > METADATA_MAX_KEYS:
        raise invalid_param(param, "Metadata can have at most 50 keys.")
    return merged


# -- time -------------------------------------------------------------------------------------------
def add_interval(ts: int, interval: str, count: int) -> int:
    """Calendar arithmetic in UTC; month/year ends clamp (Jan 31 + 1 month = Feb 28/29)."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    if interval == "day":
        return int((dt + timedelta(days=count)).timestamp())
    if interval == "week":
        return int((dt + timedelta(weeks=count)).timestamp())
    months = count if interval == "month" else count * 12
    year, month0 = divmod(dt.month - 1 + months, 12)
    year += dt.year
    day = min(dt.day, calendar.monthrange(year, month0 + 1)[1])
    return int(dt.replace(year=year, month=month0 + 1, day=day).timestamp())


def fmt_date(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%d %b %Y")


# -- money ------------------------------------------------------------------------------------------
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$", "chf": "CHF "}
_ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "pyg", "ugx", "xaf", "xof", "isk"}


def money(amount: int | None, currency: str | None) -> str:
    if amount is None:
        return "—"
    cur = (currency or "usd").lower()
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    text = f"{value}" if cur in _ZERO_DECIMAL else f"{value / 100:,.2f}"
    symbol = _SYMBOLS.get(cur)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {cur.upper()}"


def line_amount(unit_amount_decimal: str | None, quantity: int) -> int:
    if unit_amount_decimal is None:
        return 0
    total = Decimal(unit_amount_decimal) * quantity
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# -- structures -------------------------------------------------------------------------------------
def public(obj: Any) -> Any:
    """Deep copy without private (``_``-prefixed) keys."""
    if isinstance(obj, dict):
        return {k: public(v) for k, v in obj.items() if not (isinstance(k, str) and k.startswith("_"))}
    if isinstance(obj, list):
        return [public(v) for v in obj]
    return copy.copy(obj)


def diff_previous(old: Obj, new: Obj) -> Obj:
    """Stripe's ``previous_attributes``: old values of changed keys; plain hashes diffed per key."""
    prev: Obj = {}
    for key in list(old.keys()) + [k for k in new if k not in old]:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and "object" not in before and "object" not in after:
            prev[key] = diff_previous(before, after)
        else:
            prev[key] = copy.deepcopy(before)
    return prev


def require_one_of(params: Obj, names: tuple[str, ...]) -> None:
    if not any(params.get(n) not in (None, "") for n in names):
        raise missing_param(names[0], f"You must pass one of: {', '.join(names)}.")


# -- Stripe object helpers --------------------------------------------------------------------------
def metered(price: Obj) -> bool:
    return bool(price.get("recurring")) and price["recurring"].get("usage_type") == "metered"


def interval_label(price: Obj) -> str:
    rec = price.get("recurring") or {}
    count = rec.get("interval_count", 1)
    interval = rec.get("interval", "month")
    return interval if count == 1 else f"{count} {interval}s"


def invoice_subscription(invoice: Obj) -> str | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return details.get("subscription")


def decimal_str(value: Decimal) -> str:
    return format(value.normalize(), "f")
