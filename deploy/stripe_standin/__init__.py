"""Local Stripe stand-in: an HTTP server speaking the slice of Stripe's v1 API Tenantry uses.

A development tool for `make run`, the tests and the benchmarks: no product package imports it and
the production image does not contain it (docs/decisions.md D91). Pure standard library.
Start it with ``python -m deploy.stripe_standin`` or programmatically::

    from deploy.stripe_standin.server import StandinServer

    srv = StandinServer(port=0, webhook_url="http://127.0.0.1:8000/webhooks/stripe/",
                        webhook_secret="whsec_test").start()
    ...
    srv.stop()
"""

from deploy.stripe_standin.constants import API_VERSION

__all__ = ["API_VERSION"]
