"""Local Stripe stand-in: an HTTP server speaking the slice of Stripe's v1 API Tenantry uses.

Pure standard library. Start it with ``python -m billing.standin`` or programmatically::

    from billing.standin.server import StandinServer

    srv = StandinServer(port=0, webhook_url="http://127.0.0.1:8000/webhooks/stripe/",
                        webhook_secret="whsec_test").start()
    ...
    srv.stop()
"""

from billing.standin.constants import API_VERSION

__all__ = ["API_VERSION"]
