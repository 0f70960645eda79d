"""Constants shared by the stand-in modules."""

# The API version stripe-python 16.1.0 pins (stripe/_api_version.py). Payload shapes follow it:
# no `invoice.subscription` (it lives under `invoice.parent.subscription_details.subscription`) and
# no `subscription.current_period_*` (the periods live on each subscription item).
API_VERSION = "2026-10-28.endive"

DAY = 86_400
IDEMPOTENCY_TTL = DAY
METER_IDENTIFIER_TTL = DAY
METER_MAX_AGE = 35 * DAY
METER_MAX_FUTURE = 5 * 60
MAX_EXPAND_DEPTH = 4
