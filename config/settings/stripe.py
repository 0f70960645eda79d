"""Stripe integration settings (billing issue). Secrets only from the environment."""

import environ

env = environ.Env()

STRIPE_API_KEY = env("STRIPE_API_KEY", default="sk_test_local_standin")
# Where the SDK sends API calls: the local stand-in in development and tests, Stripe itself in production.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# Comma-separated: several secrets are accepted during rotation.
STRIPE_WEBHOOK_SECRETS = [s for s in env("STRIPE_WEBHOOK_SECRET", default="").split(",") if s]
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)

# Default plan catalog: what every tenant is entitled to until billing says otherwise.
# Limits: seats (members), projects, api_rpm (API requests per minute per tenant). None = unlimited.
BILLING_PLANS = {
    "free": {
        "name": "Free",
        "lookup_key": "tenantry_free_monthly",
        "unit_amount": 0,
        "currency": "usd",
        "limits": {"seats": 3, "projects": 10, "api_rpm": 120},
        "features": ["projects", "api"],
    },
    "team": {
        "name": "Team",
        "lookup_key": "tenantry_team_monthly",
        "unit_amount": 1200,
        "currency": "usd",
        "limits": {"seats": 25, "projects": 500, "api_rpm": 1200},
        "features": ["projects", "api", "audit_log"],
    },
    "business": {
        "name": "Business",
        "lookup_key": "tenantry_business_monthly",
        "unit_amount": 4900,
        "currency": "usd",
        "limits": {"seats": None, "projects": None, "api_rpm": 6000},
        "features": ["projects", "api", "audit_log", "sso"],
    },
}
BILLING_DEFAULT_PLAN = env("BILLING_DEFAULT_PLAN", default="free")

# --- Webhook inbox and billing operations (billing issue) ------------------------------------
STRIPE_WEBHOOK_MAX_BYTES = env.int("STRIPE_WEBHOOK_MAX_BYTES", default=256 * 1024)
# Processing retries: exponential backoff with jitter, then the event is parked as `failed`.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=2.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=900.0)
# The sweeper re-enqueues events still pending this long after their message was sent (or due): the
# message was lost (a broker restart without its data, a killed worker). Failed enqueues go at once.
WEBHOOK_SWEEP_AFTER_SECONDS = env.int("WEBHOOK_SWEEP_AFTER_SECONDS", default=15)
# How long the drain an ingest sends waits before applying, so that events arriving together share one
# message, one transaction per customer and one Stripe read per object (D112). 0: apply at once.
WEBHOOK_DRAIN_WINDOW_MS = env.int("WEBHOOK_DRAIN_WINDOW_MS", default=100)
# Create the Stripe customer in the background after provisioning.
BILLING_CREATE_CUSTOMERS = env.bool("BILLING_CREATE_CUSTOMERS", default=True)
# Days a past_due tenant keeps full access before it becomes read-only (suspended).
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)
BILLING_METER_EVENT_NAME = env("BILLING_METER_EVENT_NAME", default="tenantry_api_requests")
# Completed hours of API usage looked at by the periodic usage report.
BILLING_USAGE_LOOKBACK_HOURS = env.int("BILLING_USAGE_LOOKBACK_HOURS", default=48)
# Where Stripe Checkout / the Customer Portal send the customer back ({host} = the tenant host).
BILLING_RETURN_URL = env("BILLING_RETURN_URL", default="http://{host}/billing")
