from django import template

register = template.Library()


@register.filter
def money(cents: object) -> str:
    """Minor units (Stripe amounts) to a two-decimal string: 1200 -> "12.00"."""
    try:
        value = int(cents)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100}.{value % 100:02d}"
