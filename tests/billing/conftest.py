from tests.billing.support import _stripe_settings, live_db, live_django, standin

__all__ = ["_stripe_settings", "live_db", "live_django", "standin"]
